"""verify_decision: what a token binds and every reason it refuses one (no Django here)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from gqlgov_verify import (
    AGENT_MISMATCH,
    DOCUMENT_MISMATCH,
    ISSUER_MISMATCH,
    KEY_UNKNOWN,
    MAX_TOKEN_BYTES,
    OPERATION_MISMATCH,
    SIGNATURE_INVALID,
    TOKEN_EXPIRED,
    TOKEN_MALFORMED,
    TOKEN_REPLAYED,
    VARIABLES_MISMATCH,
    DecisionRejected,
    InMemoryReplayStore,
    StaticKeys,
    verify_decision,
)
from tests.verify.factories import (
    ISSUER,
    ORDERS_QUERY,
    ORDERS_VARIABLES,
    SUPPORT_ROLE,
    SUPPORT_SESSION,
    decision_claims,
    jwks,
    make_key,
    make_token,
    sign,
)


def rejection(token, key_set, **kwargs) -> str:
    kwargs.setdefault("query", ORDERS_QUERY)
    kwargs.setdefault("variables", ORDERS_VARIABLES)
    with pytest.raises(DecisionRejected) as raised:
        verify_decision(token, jwks=key_set, **kwargs)
    return raised.value.code


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_a_token_for_this_document_and_these_variables_returns_its_claims(key):
    token = make_token(key)

    claims = verify_decision(
        token,
        query=ORDERS_QUERY,
        variables=ORDERS_VARIABLES,
        jwks=jwks(key),
        agent="support-bot",
        issuer=ISSUER,
        operation_type="query",
    )

    assert claims["sub"] == "support-bot"
    assert claims["operation"] == {"name": "Orders", "type": "query", "root_fields": ["orders"]}


def test_variables_bind_by_their_canonical_json_not_their_key_order_or_spacing(key):
    token = make_token(key, variables={"first": 10, "after": "c-1"})

    assert verify_decision(token, query=ORDERS_QUERY, variables={"after": "c-1", "first": 10.0}, jwks=jwks(key))


def test_absent_variables_are_the_empty_object(key):
    token = make_token(key, variables=None)

    assert verify_decision(token, query=ORDERS_QUERY, variables={}, jwks=jwks(key))
    assert verify_decision(token, query=ORDERS_QUERY, variables=None, jwks=jwks(key))


def test_a_parsed_key_set_and_a_jwks_dict_verify_alike(key):
    token = make_token(key)

    assert verify_decision(token, query=ORDERS_QUERY, variables=ORDERS_VARIABLES, jwks=StaticKeys(jwks(key)))


def test_another_document_is_a_document_mismatch(key):
    token = make_token(key)

    assert rejection(token, jwks(key), query=ORDERS_QUERY + " ") == DOCUMENT_MISMATCH
    assert rejection(token, jwks(key), query='mutation { deleteOrder(id: "o-1") }') == DOCUMENT_MISMATCH


def test_other_variables_are_a_variables_mismatch(key):
    token = make_token(key)

    assert rejection(token, jwks(key), variables={"first": 11}) == VARIABLES_MISMATCH
    assert rejection(token, jwks(key), variables=None) == VARIABLES_MISMATCH
    assert rejection(token, jwks(key), variables=[["first", 10]]) == VARIABLES_MISMATCH
    assert rejection(token, jwks(key), variables={"first": float("nan")}) == VARIABLES_MISMATCH


def test_an_expired_token_is_refused_after_the_leeway_and_admitted_within_it(key):
    token = make_token(key, issued_at=time.time() - 120, ttl_s=60)
    exp = jwt.decode(token, options={"verify_signature": False})["exp"]

    assert rejection(token, jwks(key), now=exp + 5.5) == TOKEN_EXPIRED
    assert verify_decision(token, query=ORDERS_QUERY, variables=ORDERS_VARIABLES, jwks=jwks(key), now=exp + 4)


def test_a_token_issued_in_the_future_beyond_the_leeway_is_refused_as_not_yet_valid(key):
    token = make_token(key, issued_at=time.time() + 30)

    assert rejection(token, jwks(key)) == TOKEN_EXPIRED


def test_now_may_be_given_as_a_datetime(key):
    from datetime import UTC, datetime, timedelta

    token = make_token(key)

    assert rejection(token, jwks(key), now=datetime.now(UTC) + timedelta(minutes=5)) == TOKEN_EXPIRED


def test_another_agents_token_is_an_agent_mismatch_by_name_and_by_role(key):
    token = make_token(key, agent="reports-bot", iam_role_arn="arn:aws:iam::123456789012:role/reports-bot")

    assert rejection(token, jwks(key), agent="support-bot") == AGENT_MISMATCH
    assert rejection(token, jwks(key), agent=SUPPORT_SESSION) == AGENT_MISMATCH


def test_an_iam_caller_needs_the_token_to_name_its_role(key):
    token = make_token(key, iam_role_arn=None)

    assert rejection(token, jwks(key), agent=SUPPORT_SESSION) == AGENT_MISMATCH


def test_a_session_of_the_agents_role_is_the_agent(key):
    token = make_token(key, iam_role_arn=SUPPORT_ROLE)

    assert verify_decision(token, query=ORDERS_QUERY, variables=ORDERS_VARIABLES, jwks=jwks(key), agent=SUPPORT_SESSION)


def test_a_token_signed_by_a_key_the_set_does_not_publish_is_key_unknown(key):
    stranger = make_key("not-published")

    assert rejection(make_token(stranger), jwks(key)) == KEY_UNKNOWN


def test_a_token_whose_kid_names_a_published_key_but_another_key_signed_is_signature_invalid(key):
    impostor = make_key(key.kid)

    assert rejection(make_token(impostor), jwks(key)) == SIGNATURE_INVALID


def test_a_tampered_payload_is_signature_invalid(key):
    header, _payload, signature = make_token(key).split(".")
    forged = b64(decision_claims(agent="admin-bot"))

    assert rejection(f"{header}.{forged}.{signature}", jwks(key)) == SIGNATURE_INVALID


@pytest.mark.parametrize("alg", ["none", "HS256", "RS256", "ES384"])
def test_only_es256_is_accepted(key, alg):
    header = b64({"alg": alg, "kid": key.kid, "typ": "JWT"})
    payload = b64(decision_claims())
    forged = f"{header}.{payload}." + ("" if alg == "none" else "c2lnbmF0dXJl")

    assert rejection(forged, jwks(key)) == SIGNATURE_INVALID


def test_an_hs256_token_keyed_with_the_public_key_is_refused(key):
    # The classic confusion attack: HMAC "keyed" with what the verifier publishes (PyJWT would not sign it).
    public_pem = key.private_key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    signing_input = f"{b64({'alg': 'HS256', 'kid': key.kid})}.{b64(decision_claims())}"
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    token = f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"

    assert rejection(token, jwks(key)) == SIGNATURE_INVALID


@pytest.mark.parametrize(
    "token",
    [None, "", "not-a-token", "a.b", "a.b.c.d", "é.b.c", "!!!.###.$$$", b"bytes.are.not", 42],
)
def test_what_is_not_a_compact_jws_is_token_malformed(key, token):
    assert rejection(token, jwks(key)) == TOKEN_MALFORMED


def test_a_token_over_8_kib_is_malformed_before_any_parsing(key):
    token = make_token(key, padding="x" * MAX_TOKEN_BYTES)

    assert len(token) > MAX_TOKEN_BYTES
    assert rejection(token, jwks(key)) == TOKEN_MALFORMED


def test_a_header_without_kid_is_malformed(key):
    token = jwt.encode(decision_claims(), key.private_key, algorithm="ES256")

    assert rejection(token, jwks(key)) == TOKEN_MALFORMED


def test_critical_header_parameters_are_malformed(key):
    token = sign(decision_claims(), key, crit=["exp"])

    assert rejection(token, jwks(key)) == TOKEN_MALFORMED


@pytest.mark.parametrize(
    "claims",
    [
        {"exp": None},
        {"exp": "soon"},
        {"iat": True},
        {"operation": "query.orders"},
        {"operation": {"name": "Orders", "type": "query", "root_fields": "orders"}},
        {"document_sha256": 1},
        {"iam_role_arn": 7},
    ],
)
def test_claims_outside_the_contract_are_malformed(key, claims):
    token = sign(decision_claims(**claims), key)

    assert rejection(token, jwks(key)) == TOKEN_MALFORMED


def test_a_signed_payload_that_is_not_a_json_object_is_malformed(key):
    token = jwt.api_jws.encode(b"[1, 2]", key.private_key, algorithm="ES256", headers={"kid": key.kid})

    assert rejection(token, jwks(key)) == TOKEN_MALFORMED


def test_another_issuer_is_an_issuer_mismatch_and_a_trailing_slash_is_not(key):
    token = make_token(key)

    assert rejection(token, jwks(key), issuer="https://staging.gqlgov.example.com") == ISSUER_MISMATCH
    assert verify_decision(token, query=ORDERS_QUERY, variables=ORDERS_VARIABLES, jwks=jwks(key), issuer=ISSUER + "/")


def test_another_operation_type_or_name_is_an_operation_mismatch(key):
    token = make_token(key)

    assert rejection(token, jwks(key), operation_type="mutation") == OPERATION_MISMATCH
    assert rejection(token, jwks(key), operation_name="DeleteOrder") == OPERATION_MISMATCH


def test_with_single_use_on_a_token_is_admitted_once_then_replayed(key):
    store = InMemoryReplayStore()
    token = make_token(key)
    verify = dict(query=ORDERS_QUERY, variables=ORDERS_VARIABLES, jwks=jwks(key), replay_store=store)

    assert verify_decision(token, **verify)
    assert rejection(token, jwks(key), replay_store=store) == TOKEN_REPLAYED


def test_a_refused_request_does_not_use_up_the_token(key):
    store = InMemoryReplayStore()
    token = make_token(key)

    assert rejection(token, jwks(key), variables={"first": 99}, replay_store=store) == VARIABLES_MISMATCH
    assert verify_decision(token, query=ORDERS_QUERY, variables=ORDERS_VARIABLES, jwks=jwks(key), replay_store=store)


def test_the_replay_store_keeps_a_jti_until_the_token_is_past_its_leeway(key):
    claimed = []

    class RecordingStore:
        def claim(self, jti, expires_at):
            claimed.append((jti, expires_at))
            return True

    token = make_token(key)
    claims = verify_decision(
        token, query=ORDERS_QUERY, variables=ORDERS_VARIABLES, jwks=jwks(key), replay_store=RecordingStore(), leeway_s=5
    )

    assert claimed == [(claims["jti"], claims["exp"] + 5)]


def test_the_rejection_carries_its_code_and_a_message(key):
    with pytest.raises(DecisionRejected) as raised:
        verify_decision(make_token(key), query="{ other }", variables=None, jwks=jwks(key))

    assert raised.value.code == DOCUMENT_MISMATCH
    assert raised.value.message == "the document is not the one gqlgov decided on"
    assert str(raised.value) == f"{DOCUMENT_MISMATCH}: {raised.value.message}"


# --- on behalf of a person (RFC 8693 delegation: `sub` the person, `act.sub` the agent) ---


def test_a_delegated_decision_is_for_its_acting_agent_not_for_the_person(key):
    token = make_token(key, agent="alice", act={"sub": "support-bot"})

    claims = verify_decision(token, query=ORDERS_QUERY, variables=ORDERS_VARIABLES, jwks=jwks(key),
                             agent="support-bot")

    assert (claims["sub"], claims["act"]) == ("alice", {"sub": "support-bot"})
    assert rejection(token, jwks(key), agent="alice") == AGENT_MISMATCH


@pytest.mark.parametrize("act", ["support-bot", {"name": "support-bot"}, {"sub": 7}], ids=["string", "no-sub", "int"])
def test_an_act_claim_not_naming_an_agent_is_malformed(key, act):
    assert rejection(make_token(key, act=act), jwks(key)) == TOKEN_MALFORMED
