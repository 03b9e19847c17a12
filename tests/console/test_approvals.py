"""The approval pages: the queue, a request's page, deciding there, the overview count, the agent's list."""

import json

import pytest

from agents.services import principal_create
from policies.models import ApprovalRequest
from tests.conftest import bearer, issue_token_for

from .conftest import make_user, signed_in

pytestmark = pytest.mark.django_db
REFUND = 'mutation Refund($id: ID!) { refundOrder(id: $id) { id } }'


def ask(client, token: str, order: str, reason: str = "", **body) -> dict:
    payload = {"query": REFUND, "variables": {"id": order}, "context": {"reason": reason}, **body}
    return client.post("/api/v1/check", data=json.dumps(payload), content_type="application/json",
                       **bearer(token)).json()


@pytest.fixture
def bot_token(shop, client):
    owner = make_user("oscar", "approver", is_staff=True)
    return issue_token_for(principal_create(actor="test", name="refund-bot", kind="ai", owner=owner))


def test_the_queue_lists_pending_requests_oldest_first_and_filters_them(client, bot_token, approver, viewer):
    first = ask(client, bot_token, "1")["approval"]["id"]
    second = ask(client, bot_token, "2")["approval"]["id"]

    page = signed_in(viewer).get("/admin/approvals/").content.decode()
    assert page.index(first) < page.index(second)
    assert first not in signed_in(viewer).get("/admin/approvals/?agent=other-bot").content.decode()
    assert second in signed_in(viewer).get("/admin/approvals/?schema=shop&rule=refunds-need-a-human").content.decode()
    assert 'id="pending-approvals">2<' in signed_in(viewer).get("/admin/").content.decode()
    assert first in signed_in(viewer).get("/admin/agent/refund-bot/").content.decode()


def test_a_request_page_shows_the_redacted_request_and_lets_an_approver_decide(client, bot_token, approver, viewer):
    approval_id = ask(client, bot_token, "7", reason="Charged twice")["approval"]["id"]

    seen = signed_in(viewer).get(f"/admin/approvals/{approval_id}/").content.decode()
    assert "refundOrder" in seen and "Charged twice" in seen and 'id="approve"' not in seen
    assert 'id="approve"' in signed_in(approver).get(f"/admin/approvals/{approval_id}/").content.decode()
    refused = signed_in(viewer).post(f"/admin/approvals/{approval_id}/approve/", {"comment": "ok"})
    assert refused.status_code == 403

    signed_in(approver).post(f"/admin/approvals/{approval_id}/approve/", {"comment": "Refund is due"})

    assert ApprovalRequest.objects.get(pk=approval_id).status == "approved"
    assert ask(client, bot_token, "7", approval_id=approval_id)["decision"] == "allow"


def test_a_request_page_prints_its_document_as_graphql_and_its_variables_as_yaml(client, bot_token, viewer):
    approval_id = ask(client, bot_token, "7")["approval"]["id"]
    seen = signed_in(viewer).get(f"/admin/approvals/{approval_id}/").content.decode()
    assert "mutation Refund($id: ID!) {\n  refundOrder(id: $id) {\n    id\n  }\n}" in seen
    assert "{&#x27;" not in seen  # the variables are YAML, not a Python dict


def test_the_agents_owner_sees_no_decision_controls(client, bot_token):
    from django.contrib.auth import get_user_model

    approval_id = ask(client, bot_token, "1")["approval"]["id"]
    owner = get_user_model().objects.get(username="oscar")

    page = signed_in(owner).get(f"/admin/approvals/{approval_id}/").content.decode()

    assert 'id="approve"' not in page
    assert "owner may not decide" in page
