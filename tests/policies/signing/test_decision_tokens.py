"""POST /api/v1/check: every allow carries a decision token bound to the request; nothing else does."""

import hashlib
import json
import logging
from io import StringIO

import jwt
import pytest
from django.core.management import call_command

from agents.services import principal_update
from policies.checks.caches import clear_caches
from policies.models import Decision
from tests.conftest import issue_token_for, make_principal
from tests.policies.conftest import activate_policy
from tests.policies.signing.conftest import ORDERS, check, fetch_jwks, verify

pytestmark = pytest.mark.django_db

CLAIMS = {"iss", "sub", "iat", "exp", "jti", "decision_id", "schema", "policy_version", "operation",
          "document_sha256", "variables_sha256"}
ORDER_BY_ID = "query One($id: ID!) { order(id: $id) { id } }"
ROLE = "arn:aws:iam::123456789012:role/support-bot"


def test_an_allow_carries_a_token_whose_claims_are_the_decision_and_the_request(client, shop, agent_token):
    query = "  {orders(first: 5)   { edges { node { id customer { name } } } } }\n"  # hashed exactly as sent
    body = check(client, agent_token, schema="shop", query=query).json()

    assert body["decision"] == "allow"
    header = jwt.get_unverified_header(body["decision_token"])
    claims = verify(body["decision_token"], fetch_jwks(client))
    assert header["alg"] == "ES256"
    assert header["kid"] in {key.key_id for key in fetch_jwks(client).keys}
    assert set(claims) == CLAIMS  # the agent has no IAM role: no iam_role_arn
    assert claims["iss"] == "http://127.0.0.1:8000"
    assert claims["sub"] == "support-bot"
    assert claims["exp"] - claims["iat"] == 60
    assert claims["decision_id"] == body["decision_id"]
    assert Decision.objects.get(pk=claims["decision_id"]).decision == "allow"
    assert claims["schema"] == "shop"
    assert claims["policy_version"] == shop.number == body["policy_version"]
    assert claims["operation"] == {"name": None, "type": "query", "root_fields": ["orders"]} == body["operation"]
    assert claims["document_sha256"] == hashlib.sha256(query.encode()).hexdigest()
    assert claims["variables_sha256"] == hashlib.sha256(b"{}").hexdigest()


def test_all_variables_sent_are_bound_by_their_rfc8785_canonical_json(client, shop, agent_token):
    variables = {"note": {"z": 10.0, "a": [True, None, "é"]}, "id": "1"}  # `note` is not even declared
    body = check(client, agent_token, query=ORDER_BY_ID, variables=variables, operationName="One").json()

    claims = verify(body["decision_token"], fetch_jwks(client))
    canonical = '{"id":"1","note":{"a":[true,null,"é"],"z":10}}'.encode()
    assert claims["variables_sha256"] == hashlib.sha256(canonical).hexdigest()
    assert claims["operation"] == {"name": "One", "type": "query", "root_fields": ["order"]}


def test_absent_and_empty_variables_are_bound_alike(client, shop, agent_token):
    without = verify(check(client, agent_token, query=ORDERS).json()["decision_token"], fetch_jwks(client))
    empty = verify(check(client, agent_token, query=ORDERS, variables={}).json()["decision_token"], fetch_jwks(client))

    assert without["variables_sha256"] == empty["variables_sha256"] == hashlib.sha256(b"{}").hexdigest()
    assert without["jti"] != empty["jti"]
    assert without["decision_id"] != empty["decision_id"]


def test_the_agents_iam_role_is_a_claim_when_it_has_one(client, shop, agent, agent_token):
    principal_update(actor="test", principal=agent, iam_role_arn=ROLE)

    claims = verify(check(client, agent_token, query=ORDERS).json()["decision_token"], fetch_jwks(client))

    assert claims["iam_role_arn"] == ROLE
    assert set(claims) == CLAIMS | {"iam_role_arn"}


def test_issuer_and_lifetime_follow_the_settings(client, shop, agent_token, settings):
    settings.GQLGOV_PUBLIC_URL = "https://gqlgov.example.com"
    settings.GQLGOV_DECISION_TOKEN_TTL_S = 5

    claims = verify(check(client, agent_token, query=ORDERS).json()["decision_token"], fetch_jwks(client))

    assert claims["iss"] == "https://gqlgov.example.com"
    assert claims["exp"] - claims["iat"] == 5


def test_a_token_expires_after_its_lifetime(client, shop, agent_token):
    token = check(client, agent_token, query=ORDERS).json()["decision_token"]
    jwks = fetch_jwks(client)

    verify(token, jwks, seconds_from_now=50)
    with pytest.raises(jwt.ExpiredSignatureError):
        verify(token, jwks, seconds_from_now=61)


def test_a_changed_token_does_not_verify(client, shop, agent_token):
    token = check(client, agent_token, query=ORDERS).json()["decision_token"]
    header, payload, signature = token.split(".")
    claims = json.loads(jwt.utils.base64url_decode(payload))
    forged = jwt.utils.base64url_encode(json.dumps({**claims, "sub": "admin-bot"}).encode()).decode()

    with pytest.raises(jwt.InvalidSignatureError):
        verify(f"{header}.{forged}.{signature}", fetch_jwks(client))


def test_deny_and_pending_approval_carry_no_token(client, shop, agent_token):
    denied = check(client, agent_token, query='mutation { deleteOrder(id: "1") }').json()
    pending = check(client, agent_token, query='mutation { refundOrder(id: "1") { id } }').json()
    unknown = check(client, agent_token, schema="nope", query=ORDERS).json()
    outsider = check(client, issue_token_for(make_principal("outsider-bot", "ai")), query=ORDERS).json()

    assert [denied["decision"], pending["decision"], unknown["decision"], outsider["decision"]] == [
        "deny", "pending_approval", "deny", "deny"]
    assert not any("decision_token" in body for body in (denied, pending, unknown, outsider))


def test_an_allow_the_rate_limit_refuses_carries_no_token(client, shop_schema, agent_token):
    activate_policy("""
schema: shop
rules:
  - {id: reads, effect: allow, subjects: {groups: [support]}, operations: ["query.*"],
     rate_limits: [{requests: 1, per: minute}]}
""")
    assert "decision_token" in check(client, agent_token, query=ORDERS).json()

    refused = check(client, agent_token, query=ORDERS)

    assert refused.status_code == 429
    assert "decision_token" not in refused.json()


@pytest.mark.parametrize("raw_variables", ['{"id": "1", "n": 1152921504606846976}',
                                           '{"id": "1", "n": 1e400}',
                                           '{"id": "\\udc00"}',
                                           '{"id": "1", "\\ud800": "a name with a lone surrogate"}'])
def test_variables_without_a_canonical_form_deny_without_quoting_them(client, shop, agent_token, raw_variables):
    body = f'{{"query": "{ORDER_BY_ID}", "variables": {raw_variables}}}'
    response = client.post("/api/v1/check", data=body, content_type="application/json",
                           HTTP_AUTHORIZATION=f"Bearer {agent_token}")

    answer = response.json()
    assert response.status_code == 200
    assert answer["decision"] == "deny"
    assert [reason["code"] for reason in answer["reasons"]] == ["VARIABLES_NOT_BINDABLE"]
    assert all(reason["hint"] for reason in answer["reasons"])
    assert "decision_token" not in answer
    assert "1152921504606846976" not in response.content.decode()
    assert Decision.objects.get(pk=answer["decision_id"]).decision == "deny"


def test_a_key_that_no_longer_decrypts_answers_503_until_it_is_rotated(client, shop, agent_token, settings, on_commit,
                                                                        caplog):
    assert check(client, agent_token, query=ORDERS).status_code == 200  # the first key, under this SECRET_KEY
    settings.SECRET_KEY = "another-secret-key-than-the-one-the-signing-key-was-encrypted-under"
    clear_caches()  # a process started with the new SECRET_KEY

    refused = [check(client, agent_token, query=ORDERS) for _ in range(3)]

    assert [response.status_code for response in refused] == [503, 503, 503]
    assert refused[0].json()["error"]["code"] == "DECISION_SIGNING_UNAVAILABLE"
    assert refused[0]["Retry-After"] == "2"
    assert caplog.text.count("does not decrypt") == 1  # tried again once per refresh interval, not per check
    with on_commit():
        call_command("rotate_decision_key", stdout=StringIO())
    assert "decision_token" in check(client, agent_token, query=ORDERS).json()


def test_decision_tokens_never_reach_the_logs(client, shop, agent_token, caplog):
    caplog.set_level(logging.DEBUG)

    token = check(client, agent_token, query=ORDERS).json()["decision_token"]

    assert token.split(".")[2] not in caplog.text and token.split(".")[1] not in caplog.text
