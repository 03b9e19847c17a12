"""Approvals in a real browser: an approver approves one request and denies another; the agent's
re-check of the approved one is allowed once."""

import json
import re

import pytest
from django.test import Client

from agents.services import principal_create
from tests.conftest import bearer, issue_token_for

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]
REFUND = 'mutation Refund($id: ID!) { refundOrder(id: $id) { id } }'


def ask(token: str, order: str, **body) -> dict:
    payload = {"query": REFUND, "variables": {"id": order}, "context": {"reason": f"Refund order {order}"}, **body}
    return Client().post("/api/v1/check", data=json.dumps(payload), content_type="application/json",
                         **bearer(token)).json()


def test_an_approver_approves_one_request_and_denies_another_and_the_agent_uses_the_approval_once(sign_in, shop):
    token = issue_token_for(principal_create(actor="test", name="refund-bot", kind="ai"))
    approved_id = ask(token, "1")["approval"]["id"]
    denied_id = ask(token, "2")["approval"]["id"]

    approver = sign_in("approver")
    page = approver.go("/admin/")
    assert page.inner_text("#pending-approvals") == "2"
    page = approver.go("/admin/approvals/")
    assert page.locator("#approval-queue tbody tr").count() == 2
    approver.shot("approvals-queue")
    page.locator(f'#approval-queue tr[data-approval="{approved_id}"] a').first.click()
    page.wait_for_url(re.compile(rf"/admin/approvals/{approved_id}/$"))
    assert "Refund order 1" in page.inner_text("#approval-reason")
    approver.shot("approval-request")
    page.fill("#id_comment", "Charged twice; refund is due.")
    page.click("#approve")
    assert page.inner_text("#approval-status") == "Approved"

    page = approver.go(f"/admin/approvals/{denied_id}/")
    page.fill("#id_comment", "Order 2 was refunded already.")
    page.click("#deny")
    assert page.inner_text("#approval-status") == "Denied"
    assert approver.go("/admin/").inner_text("#pending-approvals") == "0"

    allowed = ask(token, "1", approval_id=approved_id)
    assert allowed["decision"] == "allow", allowed["reasons"]
    assert allowed["decision_token"]
    assert ask(token, "1", approval_id=approved_id)["reasons"][0]["code"] == "APPROVAL_USED"
    refused = ask(token, "2", approval_id=denied_id)
    assert refused["reasons"][0]["code"] == "APPROVAL_DENIED"
    assert "Order 2 was refunded already." in refused["reasons"][0]["message"]
