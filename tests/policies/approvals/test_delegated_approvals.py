"""Approvals of a check on behalf of a person: bound to the agent and that person, and never
decided by the person the agent acts for."""

import pytest

from agents.models import Principal
from tests.policies.approvals.conftest import decide, make_person
from tests.policies.delegation import PERSON_SUB, REFUND, check, delegation_policy
from tests.policies.delegation import make_person as make_delegator

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("oidc_settings")]


@pytest.fixture
def pending_refund(client, shop_schema, agent_token, oidc_provider):
    """A refund the agent asked for on behalf of alice (finance's refunds need approval)."""
    delegation_policy()
    make_delegator()
    token = oidc_provider.issue_token(sub=PERSON_SUB)
    body = check(client, agent_token, REFUND, person_token=token, variables={"id": "1"}).json()
    assert body["decision"] == "pending_approval"
    return body["approval"]["id"], token


def test_an_approved_delegated_refund_is_allowed_once_for_the_same_person(
        client, agent_token, pending_refund, approver):
    approval_id, person_token = pending_refund
    _user, approver_token = approver
    assert decide(client, approver_token, approval_id, "approve").status_code == 200

    again = check(client, agent_token, REFUND, person_token=person_token, variables={"id": "1"},
                  approval_id=approval_id).json()

    assert again["decision"] == "allow"
    assert again["on_behalf_of"] == "alice"


def test_an_approval_for_one_person_does_not_serve_another(client, agent_token, pending_refund, approver,
                                                           oidc_provider):
    approval_id, _person_token = pending_refund
    _user, approver_token = approver
    decide(client, approver_token, approval_id, "approve")
    make_delegator("carol", "carol-sub")

    other = check(client, agent_token, REFUND, person_token=oidc_provider.issue_token(sub="carol-sub"),
                  variables={"id": "1"}, approval_id=approval_id).json()

    assert other["decision"] == "deny"
    assert [reason["code"] for reason in other["reasons"]] == ["APPROVAL_MISMATCH"]


def test_the_person_acted_for_may_not_decide_the_approval(client, pending_refund):
    approval_id, person_token = pending_refund
    user, _token = make_person("alice-login", "gqlgov-approvers")  # alice is an approver...
    Principal.objects.filter(user=user).update(user=None)
    Principal.objects.filter(name="alice").update(user=user)

    response = decide(client, person_token, approval_id, "approve")  # ...calling with her own IdP token

    assert response.status_code == 403
    assert "acts for" in response.json()["error"]["message"]
