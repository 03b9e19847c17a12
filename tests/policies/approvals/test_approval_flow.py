"""Approval requests end to end through the API: asked for by a check, decided by people, used once."""

import base64
import json
from datetime import timedelta

import pytest
from django.utils import timezone

from agents.models import AuditEvent
from gqlgov_verify.binding import document_sha256, variables_sha256
from policies.models import ApprovalRequest
from tests.conftest import bearer, issue_token_for, make_principal

from .conftest import REFUND, decide, make_person, refund

pytestmark = pytest.mark.django_db


def claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def actions(approval_id) -> list[str]:
    return list(AuditEvent.objects.filter(target_id=str(approval_id)).values_list("action", flat=True))


def test_a_refund_answers_pending_approval_with_a_request_bound_to_the_document(client, refunds, bot_token):
    body = refund(client, bot_token, context={"reason": "Customer   was charged twice\nfor order 1"}).json()

    assert body["decision"] == "pending_approval"
    approval = body["approval"]
    assert approval["status"] == "pending"
    assert set(approval) == {"id", "status", "expires_at", "review_url", "poll_url"}
    assert approval["poll_url"].endswith(f"/api/v1/approvals/{approval['id']}")
    assert approval["review_url"].endswith(f"/admin/approvals/{approval['id']}/")
    stored = ApprovalRequest.objects.get(pk=approval["id"])
    assert (stored.agent_name, stored.schema_name, stored.policy_version, stored.operation_name) == (
        "refund-bot", "shop", refunds.number, "Refund")
    assert stored.document_sha256 == document_sha256(REFUND)
    assert stored.variables_sha256 == variables_sha256({"id": "1"})
    assert stored.rule == "refunds-need-a-human"
    assert stored.reason == "Customer was charged twice for order 1"
    assert stored.required_approvals == 1
    assert str(stored.decision_id) == body["decision_id"]
    assert actions(stored.pk) == ["approval.requested"]


def test_the_identical_check_while_pending_returns_the_same_request(client, refunds, bot_token):
    first = refund(client, bot_token).json()["approval"]["id"]

    assert refund(client, bot_token).json()["approval"]["id"] == first
    assert refund(client, bot_token, order="2").json()["approval"]["id"] != first


def test_the_agent_polls_its_own_request_and_others_get_404(client, refunds, bot_token):
    approval_id = refund(client, bot_token).json()["approval"]["id"]
    other = issue_token_for(make_principal("other-bot", "ai", groups=["support"]))

    polled = client.get(f"/api/v1/approvals/{approval_id}", **bearer(bot_token))
    assert polled.status_code == 200
    assert polled.json()["status"] == "pending"
    assert "document" not in polled.json()
    assert client.get(f"/api/v1/approvals/{approval_id}", **bearer(other)).json()["error"]["code"] == "NOT_FOUND"
    assert client.get("/api/v1/approvals/not-a-uuid", **bearer(bot_token)).status_code == 404


def test_an_approved_request_allows_the_identical_check_exactly_once_with_a_token(client, refunds, bot_token,
                                                                                   approver):
    approval_id = refund(client, bot_token).json()["approval"]["id"]
    decided = decide(client, approver[1], approval_id, "approve", "Refund is due")
    assert decided.status_code == 200
    assert decided.json()["status"] == "approved"

    allowed = refund(client, bot_token, approval_id=approval_id).json()
    again = refund(client, bot_token, approval_id=approval_id).json()

    assert allowed["decision"] == "allow"
    assert allowed["approval"]["status"] == "used"
    token = claims(allowed["decision_token"])
    assert token["document_sha256"] == document_sha256(REFUND)
    assert token["variables_sha256"] == variables_sha256({"id": "1"})
    assert again["decision"] == "deny"
    assert [reason["code"] for reason in again["reasons"]] == ["APPROVAL_USED"]
    assert "decision_token" not in again
    assert actions(approval_id) == ["approval.requested", "approval.approved", "approval.used"]


def test_other_variables_with_an_approval_get_approval_mismatch(client, refunds, bot_token, approver):
    approval_id = refund(client, bot_token).json()["approval"]["id"]
    decide(client, approver[1], approval_id, "approve")

    mismatch = refund(client, bot_token, order="2", approval_id=approval_id).json()

    assert mismatch["decision"] == "deny"
    assert mismatch["reasons"][0]["code"] == "APPROVAL_MISMATCH"
    assert mismatch["reasons"][0]["hint"]
    assert refund(client, bot_token, approval_id=approval_id).json()["decision"] == "allow"


def test_a_denied_request_answers_approval_denied_with_the_comment(client, refunds, bot_token, approver):
    approval_id = refund(client, bot_token).json()["approval"]["id"]
    assert decide(client, approver[1], approval_id, "deny", "Order 1 was refunded already").json()["status"] == "denied"

    denied = refund(client, bot_token, approval_id=approval_id).json()

    assert denied["decision"] == "deny"
    assert denied["reasons"][0]["code"] == "APPROVAL_DENIED"
    assert "Order 1 was refunded already" in denied["reasons"][0]["message"]
    assert actions(approval_id) == ["approval.requested", "approval.denied"]
    event = AuditEvent.objects.get(action="approval.denied")
    assert (event.actor, event.details["comment"]) == ("user:ann", "Order 1 was refunded already")


def test_an_expired_approval_answers_approval_expired(client, refunds, bot_token, approver):
    approval_id = refund(client, bot_token).json()["approval"]["id"]
    decide(client, approver[1], approval_id, "approve")
    ApprovalRequest.objects.filter(pk=approval_id).update(expires_at=timezone.now() - timedelta(seconds=1))

    expired = refund(client, bot_token, approval_id=approval_id).json()

    assert expired["reasons"][0]["code"] == "APPROVAL_EXPIRED"
    assert ApprovalRequest.objects.get(pk=approval_id).status == "expired"
    assert actions(approval_id)[-1] == "approval.expired"


def test_an_unknown_or_foreign_approval_id_is_approval_not_found(client, refunds, bot_token):
    other = issue_token_for(make_principal("other-bot", "ai", groups=["support"]))
    approval_id = refund(client, other).json()["approval"]["id"]

    assert refund(client, bot_token, approval_id=approval_id).json()["reasons"][0]["code"] == "APPROVAL_NOT_FOUND"
    assert refund(client, bot_token, approval_id="nope").json()["reasons"][0]["code"] == "APPROVAL_NOT_FOUND"


def test_a_pending_request_re_checked_with_its_id_stays_pending(client, refunds, bot_token):
    approval_id = refund(client, bot_token).json()["approval"]["id"]

    body = refund(client, bot_token, approval_id=approval_id).json()

    assert (body["decision"], body["approval"]["id"], body["approval"]["status"]) == (
        "pending_approval", approval_id, "pending")


def test_a_two_person_rule_needs_two_distinct_people_of_its_group(client, two_person_refunds, bot_token):
    approval_id = refund(client, bot_token).json()["approval"]["id"]
    stored = ApprovalRequest.objects.get(pk=approval_id)
    assert (stored.required_approvals, stored.approver_groups) == (2, ["payments-leads"])
    assert 14 * 60 < (stored.expires_at - stored.created_at).total_seconds() <= 15 * 60
    _lead, lead_token = make_person("lea", "payments-leads")
    _other, other_token = make_person("max", "payments-leads")
    _approver, approver_token = make_person("ann", "gqlgov-approvers")

    assert decide(client, approver_token, approval_id, "approve").json()["error"]["code"] == "PERMISSION_DENIED"
    assert decide(client, lead_token, approval_id, "approve").json()["status"] == "pending"
    assert decide(client, lead_token, approval_id, "approve").status_code == 403
    assert refund(client, bot_token, approval_id=approval_id).json()["decision"] == "pending_approval"
    assert decide(client, other_token, approval_id, "approve").json()["status"] == "approved"
    assert refund(client, bot_token, approval_id=approval_id).json()["decision"] == "allow"


def test_the_agents_owner_may_not_decide(client, refunds, bot, bot_token, owner):
    from django.contrib.auth.models import Group

    owner.groups.add(Group.objects.get_or_create(name="gqlgov-approvers")[0])
    owner_token = issue_token_for(make_principal("olga-human", "human", user=owner))
    approval_id = refund(client, bot_token).json()["approval"]["id"]

    refused = decide(client, owner_token, approval_id, "approve")

    assert refused.status_code == 403
    assert "owner" in refused.json()["error"]["message"]


def test_a_decided_request_cannot_be_decided_again(client, refunds, bot_token, approver, second_approver):
    approval_id = refund(client, bot_token).json()["approval"]["id"]
    decide(client, approver[1], approval_id, "deny", "no")

    again = decide(client, second_approver[1], approval_id, "approve")

    assert again.status_code == 409
    assert again.json()["error"]["code"] == "APPROVAL_NOT_PENDING"


def test_the_staff_api_answers_each_persona(client, refunds, bot_token, approver):
    approval_id = refund(client, bot_token).json()["approval"]["id"]
    _viewer, viewer_token = make_person("vic", "gqlgov-viewers")
    _outsider, outsider_token = make_person("out", staff=False)

    assert client.get("/api/v1/approvals").status_code == 401
    assert client.get("/api/v1/approvals", **bearer(bot_token)).status_code == 403
    assert client.get("/api/v1/approvals", **bearer(outsider_token)).status_code == 403
    assert decide(client, bot_token, approval_id, "approve").status_code == 403
    assert decide(client, viewer_token, approval_id, "approve").status_code == 403
    assert decide(client, approver[1], approval_id, "maybe").status_code == 422
    assert decide(client, approver[1], "00000000-0000-0000-0000-000000000000", "approve").status_code == 404
    listed = client.get("/api/v1/approvals?schema=shop&agent=refund-bot&rule=refunds-need-a-human",
                        **bearer(approver[1])).json()["approvals"]
    assert [item["id"] for item in listed] == [approval_id]
    assert listed[0]["variables"] == {"id": "1"}
    assert client.get("/api/v1/approvals?agent=nobody", **bearer(approver[1])).json()["approvals"] == []
    assert client.get("/api/v1/approvals?status=bogus", **bearer(approver[1])).json()["error"]["code"] == (
        "VALIDATION_ERROR")


def test_an_approval_id_that_is_no_uuid_is_not_quoted_back(client, refunds, bot_token):
    body = refund(client, bot_token, approval_id="<script>not an id</script>").json()

    assert body["reasons"][0]["code"] == "APPROVAL_NOT_FOUND"
    assert "not an id" not in body["reasons"][0]["message"]


def test_the_expiry_task_marks_overdue_requests_expired_and_audits_each(client, refunds, bot_token):
    from policies.tasks import expire_approvals

    overdue = refund(client, bot_token).json()["approval"]["id"]
    waiting = refund(client, bot_token, order="2").json()["approval"]["id"]
    ApprovalRequest.objects.filter(pk=overdue).update(expires_at=timezone.now() - timedelta(seconds=1))

    assert expire_approvals() == 1
    assert ApprovalRequest.objects.get(pk=overdue).status == "expired"
    assert ApprovalRequest.objects.get(pk=waiting).status == "pending"
    assert actions(overdue) == ["approval.requested", "approval.expired"]
