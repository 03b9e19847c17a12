"""POST /api/v1/check on behalf of a person: the person's IdP token (from the loopback OIDC
provider) in `on_behalf_of` or X-On-Behalf-Of; the answer is the intersection of the agent's and
the person's rules, each reason saying whose side refused; both identities are recorded, signed
(RFC 8693 `act`), shown and audited, and both are charged."""

import pytest

from agents.models import AuditEvent, Principal
from agents.services import principal_suspend
from gqlgov_verify import DecisionRejected, acting_agent, on_behalf_of, verify_decision
from policies.models import ApprovalRequest, Decision
from tests.conftest import bearer
from tests.policies.delegation import (
    AGENT_ONLY,
    BOTH_ALLOW,
    DEEP,
    PERSON_ONLY,
    PERSON_SUB,
    REFUND,
    check,
    delegation_policy,
    make_person,
    reasons_by_side,
)
from tests.policies.signing.conftest import JWKS

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("oidc_settings", "shop_schema")]


@pytest.fixture
def person(db) -> Principal:
    return make_person()


@pytest.fixture
def person_token(oidc_provider, person) -> str:
    return oidc_provider.issue_token(sub=PERSON_SUB, extra_claims={"groups": ["finance"]})


@pytest.fixture
def policy(shop_schema):
    return delegation_policy()


# --- the intersection ------------------------------------------------------------------------


def test_what_both_sides_allow_is_allowed_and_names_the_person(client, policy, agent_token, person_token):
    response = check(client, agent_token, BOTH_ALLOW, person_token=person_token)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["decision"] == "allow"
    assert body["on_behalf_of"] == "alice"
    assert person_token not in response.content.decode()


def test_what_only_the_agent_may_do_is_denied_by_the_delegator_side(client, policy, agent_token, person_token):
    assert check(client, agent_token, AGENT_ONLY).json()["decision"] == "allow"

    body = check(client, agent_token, AGENT_ONLY, person_token=person_token).json()

    assert body["decision"] == "deny"
    assert reasons_by_side(body) == [("NO_MATCHING_RULE", "delegator")]


def test_what_only_the_person_may_do_is_denied_by_the_agent_side(client, policy, agent_token, person_token):
    body = check(client, agent_token, PERSON_ONLY, person_token=person_token).json()

    assert body["decision"] == "deny"
    assert reasons_by_side(body) == [("NO_MATCHING_RULE", "agent")]


def test_the_stricter_of_both_limits_applies(client, policy, agent_token, person_token):
    assert check(client, agent_token, DEEP).json()["decision"] == "allow"  # the agent's max_depth is 8

    body = check(client, agent_token, DEEP, person_token=person_token).json()

    assert body["decision"] == "deny"
    [reason] = body["reasons"]
    assert (reason["code"], reason["side"], reason["limit"], reason["rule"]) == (
        "DEPTH_LIMIT", "delegator", 4, "finance-reads")


def test_a_person_without_rules_is_denied_no_matching_rule_on_the_delegator_side(
        client, policy, agent_token, oidc_provider):
    make_person("bob", "bob-sub", groups=())
    body = check(client, agent_token, BOTH_ALLOW, person_token=oidc_provider.issue_token(sub="bob-sub")).json()

    assert body["decision"] == "deny"
    assert reasons_by_side(body) == [("NO_MATCHING_RULE", "delegator")]


def test_a_decision_cached_for_the_agent_alone_is_not_reused_on_behalf_of_a_person(
        client, policy, agent_token, person_token):
    decisions = [check(client, agent_token, AGENT_ONLY, person_token=token).json()["decision"]
                 for token in (None, person_token, None, person_token)]

    assert decisions == ["allow", "deny", "allow", "deny"]


def test_a_require_approval_on_the_person_side_makes_the_check_pending_for_both(
        client, policy, agent, agent_token, person, person_token):
    body = check(client, agent_token, REFUND, person_token=person_token, variables={"id": "1"}).json()

    assert body["decision"] == "pending_approval"
    assert reasons_by_side(body) == [("APPROVAL_REQUIRED", "delegator")]
    approval = ApprovalRequest.objects.get(pk=body["approval"]["id"])
    assert (approval.principal, approval.delegator, approval.delegator_name) == (agent, person, "alice")
    # The agent alone is allowed the refund: the approval is not for its own checks.
    alone = check(client, agent_token, REFUND, variables={"id": "1"}, approval_id=body["approval"]["id"]).json()
    assert alone["decision"] == "allow"
    assert ApprovalRequest.objects.get(pk=approval.pk).status == "pending"


# --- who the person is -------------------------------------------------------------------------


def test_a_valid_token_of_no_known_person_is_denied_unknown_principal(client, policy, agent_token, oidc_provider):
    response = check(client, agent_token, BOTH_ALLOW, person_token=oidc_provider.issue_token(sub="nobody-sub"))

    assert response.status_code == 200
    body = response.json()
    assert body["decision"] == "deny"
    assert reasons_by_side(body) == [("UNKNOWN_PRINCIPAL", "delegator")]
    assert "nobody-sub" in body["reasons"][0]["message"]


def test_an_agents_token_names_no_person(client, policy, agent_token, oidc_provider):
    Principal.objects.filter(name="support-bot").update(oidc_subject="bot-sub")
    body = check(client, agent_token, BOTH_ALLOW, person_token=oidc_provider.issue_token(sub="bot-sub")).json()

    assert reasons_by_side(body) == [("UNKNOWN_PRINCIPAL", "delegator")]


def test_a_suspended_person_cannot_be_acted_for(client, policy, agent_token, person, person_token):
    principal_suspend(actor="test", principal=person)

    body = check(client, agent_token, BOTH_ALLOW, person_token=person_token).json()

    assert body["decision"] == "deny"
    assert reasons_by_side(body) == [("DELEGATOR_SUSPENDED", "delegator")]


@pytest.mark.parametrize(
    ("token_args", "code", "why"),
    [
        ({"aud": "some-other-api"}, "DELEGATION_TOKEN_INVALID", "audience"),
        ({"issuer": "https://evil.example.com"}, "DELEGATION_TOKEN_INVALID", "issuer"),
        ({"exp_in": -120}, "DELEGATION_TOKEN_EXPIRED", "expired"),
        ({"kid": "never-published"}, "DELEGATION_TOKEN_INVALID", "unknown key"),
    ],
    ids=["wrong-audience", "wrong-issuer", "expired", "unknown-key"],
)
def test_a_person_token_that_does_not_verify_is_refused_saying_why(
        client, policy, agent_token, oidc_provider, person, token_args, code, why):
    token = oidc_provider.issue_token(sub=PERSON_SUB, **token_args)

    response = check(client, agent_token, BOTH_ALLOW, person_token=token)

    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == code
    assert why in error["message"].lower()
    assert token not in response.content.decode()
    assert Decision.objects.count() == 0


def test_a_person_token_with_a_forged_signature_is_refused(client, policy, agent_token, person_token):
    header, payload, signature = person_token.split(".")
    forged = f"{header}.{payload}.{signature[:-6]}AAAAAA"

    response = check(client, agent_token, BOTH_ALLOW, person_token=forged)

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "DELEGATION_TOKEN_INVALID"
    assert "signature" in response.json()["error"]["message"].lower()
    assert forged not in response.content.decode()


def test_a_token_that_is_no_jwt_is_refused(client, policy, agent_token):
    response = check(client, agent_token, BOTH_ALLOW, person_token="not-a-jwt")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "DELEGATION_TOKEN_INVALID"


# --- the header ----------------------------------------------------------------------------------


def test_the_person_token_may_come_in_the_x_on_behalf_of_header(client, policy, agent_token, person_token):
    body = check(client, agent_token, AGENT_ONLY, header=person_token).json()

    assert reasons_by_side(body) == [("NO_MATCHING_RULE", "delegator")]


def test_body_and_header_naming_the_same_token_are_one_delegation(client, policy, agent_token, person_token):
    response = check(client, agent_token, BOTH_ALLOW, person_token=person_token, header=person_token)

    assert response.json()["on_behalf_of"] == "alice"


def test_body_and_header_naming_different_tokens_are_refused_with_400(
        client, policy, agent_token, person_token, oidc_provider):
    other = oidc_provider.issue_token(sub="bob-sub")

    response = check(client, agent_token, BOTH_ALLOW, person_token=person_token, header=other)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "ON_BEHALF_OF_CONFLICT"
    assert person_token not in response.content.decode() and other not in response.content.decode()
    assert Decision.objects.count() == 0


def test_an_empty_on_behalf_of_is_a_validation_error(client, policy, agent_token):
    response = check(client, agent_token, BOTH_ALLOW, person_token="")

    assert response.status_code == 422
    assert "on_behalf_of" in response.content.decode()


# --- what is recorded ----------------------------------------------------------------------------


def test_the_decision_token_names_the_person_as_sub_and_the_agent_as_act(client, policy, agent_token, person_token):
    body = check(client, agent_token, BOTH_ALLOW, person_token=person_token).json()
    jwks = client.get(JWKS).json()

    claims = verify_decision(body["decision_token"], query=BOTH_ALLOW, variables=None, jwks=jwks,
                             agent="support-bot")

    assert claims["sub"] == "alice"
    assert claims["act"] == {"sub": "support-bot"}
    assert (acting_agent(claims), on_behalf_of(claims)) == ("support-bot", "alice")
    with pytest.raises(DecisionRejected):
        verify_decision(body["decision_token"], query=BOTH_ALLOW, variables=None, jwks=jwks, agent="alice")


def test_an_own_decision_token_has_no_act(client, policy, agent_token):
    body = check(client, agent_token, BOTH_ALLOW).json()

    claims = verify_decision(body["decision_token"], query=BOTH_ALLOW, variables=None, jwks=client.get(JWKS).json())

    assert claims["sub"] == "support-bot" and "act" not in claims
    assert (acting_agent(claims), on_behalf_of(claims)) == ("support-bot", None)


def test_the_record_names_both_and_the_agent_and_the_person_may_read_it(
        client, policy, agent, agent_token, person, person_token):
    body = check(client, agent_token, AGENT_ONLY, person_token=person_token).json()
    record = Decision.objects.get(pk=body["decision_id"])
    assert (record.principal, record.delegator, record.delegator_name) == (agent, person, "alice")

    for token in (agent_token, person_token):
        shown = client.get(f"/api/v1/decisions/{body['decision_id']}", **bearer(token))
        assert shown.status_code == 200, shown.content
        assert (shown.json()["agent"], shown.json()["on_behalf_of"]) == ("support-bot", "alice")
        assert shown.json()["reasons"][0]["side"] == "delegator"


def test_an_own_decision_shows_no_person(client, policy, agent_token):
    body = check(client, agent_token, BOTH_ALLOW).json()

    assert client.get(f"/api/v1/decisions/{body['decision_id']}", **bearer(agent_token)).json()["on_behalf_of"] is None


def test_a_check_on_behalf_of_a_person_is_audited_with_both(client, policy, agent_token, person_token):
    body = check(client, agent_token, BOTH_ALLOW, person_token=person_token).json()

    event = AuditEvent.objects.get(action="agent.checked_on_behalf", target_id=body["decision_id"])
    assert event.actor == "agent:support-bot"
    assert event.details["on_behalf_of"] == "alice"
    assert event.details["decision"] == "allow"


def test_a_mutation_on_behalf_of_a_person_keeps_its_mutation_audit_and_names_the_person(
        client, policy, agent_token, person_token):
    body = check(client, agent_token, REFUND, person_token=person_token, variables={"id": "1"}).json()

    event = AuditEvent.objects.get(action="agent.mutation_checked", target_id=body["decision_id"])
    assert event.details["on_behalf_of"] == "alice"


# --- rate limits (in-process limiter here; tests/hardening/test_delegation_redis.py: real Redis) ---


def test_checks_on_behalf_of_a_person_are_charged_to_the_person_whichever_agent_acts(
        client, shop_schema, agent_token, person_token):
    from tests.conftest import issue_token_for, make_principal

    delegation_policy(person_limits="{requests: 2, per: minute}")
    other_agent = issue_token_for(make_principal("other-bot", "ai", groups=["support"]))
    assert check(client, agent_token, BOTH_ALLOW, person_token=person_token).status_code == 200
    assert check(client, other_agent, BOTH_ALLOW, person_token=person_token).status_code == 200

    response = check(client, agent_token, BOTH_ALLOW, person_token=person_token)

    assert response.status_code == 429
    body = response.json()
    assert body["error"]["code"] == "RATE_LIMITED"
    assert body["error"]["details"]["side"] == "delegator"
    assert body["reasons"][-1]["side"] == "delegator"
    assert body["reasons"][-1]["rule"] == "delegator:finance-reads/requests"
    # The agent's own checks are not the person's.
    assert check(client, agent_token, BOTH_ALLOW).status_code == 200


def test_the_agents_own_limit_refuses_on_the_agent_side(client, shop_schema, agent_token, person_token):
    delegation_policy(agent_limits="{requests: 1, per: minute}")
    assert check(client, agent_token, BOTH_ALLOW, person_token=person_token).status_code == 200

    body = check(client, agent_token, BOTH_ALLOW, person_token=person_token).json()

    assert body["error"]["details"]["side"] == "agent"
    assert body["reasons"][-1]["rule"] == "support-reads/requests"


def test_an_allowed_check_reports_both_sides_limits(client, shop_schema, agent_token, person_token):
    delegation_policy(agent_limits="{requests: 50, per: minute}", person_limits="{requests: 5, per: minute}")

    response = check(client, agent_token, BOTH_ALLOW, person_token=person_token)

    assert response.json()["rate_limit"] == {"limit": 5, "remaining": 4, "reset_after_s": response.json()[
        "rate_limit"]["reset_after_s"], "policy": "delegator:finance-reads/requests", "burst": 5, "side": "delegator"}
    assert '"support-reads/requests";r=49' in response["RateLimit"]
    assert '"delegator:finance-reads/requests";r=4' in response["RateLimit"]


def test_a_person_token_without_a_subject_is_refused(client, policy, agent_token, oidc_provider):
    response = check(client, agent_token, BOTH_ALLOW, person_token=oidc_provider.issue_token(sub=None))

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "DELEGATION_TOKEN_INVALID"
    assert "sub" in response.json()["error"]["message"]


def test_without_idp_jwts_configured_no_check_can_be_made_on_behalf_of_anyone(
        client, policy, agent_token, person_token, settings):
    settings.AGENT_JWT_JWKS_URL = ""

    response = check(client, agent_token, BOTH_ALLOW, person_token=person_token)

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "DELEGATION_TOKEN_INVALID"
    assert "AGENT_JWT_JWKS_URL" in response.json()["error"]["message"]
