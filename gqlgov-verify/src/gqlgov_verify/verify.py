"""Verifying a decision token: the signature, its lifetime, its issuer, the caller, and what it binds.

`verify_token` checks what any holder of a token can check without the request body (the
authorizer's part); `verify_decision` adds the binding to the document and variables, the
operation, and single use (the backend's part).
"""

from __future__ import annotations

import hmac
import json
import math
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast

import jwt
import rfc8785

from gqlgov_verify.binding import document_sha256, variables_sha256
from gqlgov_verify.caller import caller_matches
from gqlgov_verify.errors import (
    AGENT_MISMATCH,
    DOCUMENT_MISMATCH,
    ISSUER_MISMATCH,
    KEY_UNKNOWN,
    OPERATION_MISMATCH,
    SIGNATURE_INVALID,
    TOKEN_EXPIRED,
    TOKEN_MALFORMED,
    TOKEN_REPLAYED,
    VARIABLES_MISMATCH,
    DecisionRejected,
)
from gqlgov_verify.keys import ALGORITHM, MAX_KID_LENGTH, KeySource, KeysUnavailable, StaticKeys
from gqlgov_verify.replay import ReplayStore

MAX_TOKEN_BYTES = 8 * 1024  # gqlgov's tokens are ~700 bytes; anything this large is not one of them
# Clocks of gqlgov and the backend may disagree by a few seconds: a token counts as live from
# `iat - LEEWAY` to `exp + LEEWAY`. Small against the 60 s lifetime, large against NTP drift.
DEFAULT_LEEWAY_S = 5.0
_STRING_CLAIMS = ("iss", "sub", "jti", "decision_id", "document_sha256", "variables_sha256")

Jwks = KeySource | Mapping[str, Any]


def verify_token(
    token: Any,
    *,
    jwks: Jwks,
    agent: str | None = None,
    now: float | datetime | None = None,
    issuer: str | None = None,
    leeway_s: float = DEFAULT_LEEWAY_S,
) -> dict[str, Any]:
    """The claims of a token signed by gqlgov, live now, from `issuer` and for `agent` (when given).

    `agent` is the caller: an agent name (matched to `sub`) or an IAM ARN (matched to
    `iam_role_arn`, assumed-role sessions included). Raises `DecisionRejected`.
    """
    kid = _kid(token)
    claims = _signed_claims(token, _key(jwks, kid))
    moment = _epoch(now)
    if moment > claims["exp"] + leeway_s:
        raise DecisionRejected(TOKEN_EXPIRED, "the decision token has expired")
    if claims["iat"] > moment + leeway_s:
        raise DecisionRejected(TOKEN_EXPIRED, "the decision token is not valid yet (issued in the future)")
    if issuer is not None and claims["iss"].rstrip("/") != issuer.rstrip("/"):
        raise DecisionRejected(ISSUER_MISMATCH, "the decision token was issued by another gqlgov")
    if agent is not None and not caller_matches(claims, agent):
        raise DecisionRejected(AGENT_MISMATCH, "the decision was made for another agent")
    return claims


def verify_decision(
    token: Any,
    *,
    query: str,
    variables: Mapping[str, Any] | None,
    jwks: Jwks,
    agent: str | None = None,
    operation_type: str | None = None,
    operation_name: str | None = None,
    now: float | datetime | None = None,
    issuer: str | None = None,
    replay_store: ReplayStore | None = None,
    leeway_s: float = DEFAULT_LEEWAY_S,
) -> dict[str, Any]:
    """The claims of a token that admits exactly this `query` with these `variables`.

    Beyond `verify_token`: the document and variables must be the ones gqlgov checked;
    `operation_type` ("query", "mutation", "subscription") and `operation_name` (the request's
    `operationName`), when given, must be the decided operation's; with a `replay_store` the token
    is used up, last, so a refused request does not burn it. Raises `DecisionRejected`.
    """
    claims = verify_token(token, jwks=jwks, agent=agent, now=now, issuer=issuer, leeway_s=leeway_s)
    if not isinstance(query, str) or not _same(document_sha256(query), claims["document_sha256"]):
        raise DecisionRejected(DOCUMENT_MISMATCH, "the document is not the one gqlgov decided on")
    if not _same(_variables_digest(variables), claims["variables_sha256"]):
        raise DecisionRejected(VARIABLES_MISMATCH, "the variables are not the ones gqlgov decided on")
    operation = claims["operation"]
    if operation_type is not None and operation_type != operation["type"]:
        raise DecisionRejected(OPERATION_MISMATCH, f"the decision is for a {operation['type']}, not a {operation_type}")
    if operation_name is not None and operation_name != operation.get("name"):
        raise DecisionRejected(OPERATION_MISMATCH, "the operationName is not the decided operation's")
    if replay_store is not None and not replay_store.claim(claims["jti"], claims["exp"] + leeway_s):
        raise DecisionRejected(TOKEN_REPLAYED, "the decision token was already used")
    return claims


def _variables_digest(variables: Any) -> str:
    if variables is not None and not isinstance(variables, Mapping):
        return ""  # a list or a string is no variables object: it matches nothing gqlgov signed
    try:
        return variables_sha256(dict(variables) if variables is not None else None)
    except (rfc8785.CanonicalizationError, TypeError, ValueError):
        return ""  # values canonical JSON cannot carry (NaN, huge integers): gqlgov signed none such


def _kid(token: Any) -> str:
    if not isinstance(token, str) or not token:
        raise DecisionRejected(TOKEN_MALFORMED, "no decision token")
    if len(token) > MAX_TOKEN_BYTES or not token.isascii() or token.count(".") != 2:
        raise DecisionRejected(TOKEN_MALFORMED, "the decision token is not a compact JWS")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:  # undecodable, or a header PyJWT refuses (e.g. an unsupported `crit`)
        raise DecisionRejected(TOKEN_MALFORMED, "the decision token's header cannot be read") from None
    # Never `none`, never HS* (whose "key" would be the public key): only what gqlgov signs with.
    if header.get("alg") != ALGORITHM:
        raise DecisionRejected(SIGNATURE_INVALID, f"the decision token must be signed with {ALGORITHM}")
    if "crit" in header:
        raise DecisionRejected(TOKEN_MALFORMED, "the decision token has critical header parameters")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid or len(kid) > MAX_KID_LENGTH:
        raise DecisionRejected(TOKEN_MALFORMED, "the decision token's header has no kid")
    return kid


def _key(jwks: Jwks, kid: str) -> jwt.PyJWK:
    source: KeySource = StaticKeys(jwks) if isinstance(jwks, Mapping) else jwks
    try:
        key = source.key(kid)
    except KeysUnavailable as error:
        raise DecisionRejected(KEY_UNKNOWN, str(error)) from None
    if key is None:
        raise DecisionRejected(KEY_UNKNOWN, "no published gqlgov key has the decision token's kid")
    return key


def _signed_claims(token: str, key: jwt.PyJWK) -> dict[str, Any]:
    try:
        payload = jwt.api_jws.decode(token, key, algorithms=[ALGORITHM])
    except jwt.InvalidSignatureError:
        raise DecisionRejected(SIGNATURE_INVALID, "the decision token's signature does not verify") from None
    except jwt.PyJWTError:
        raise DecisionRejected(TOKEN_MALFORMED, "the decision token cannot be decoded") from None
    try:
        claims = json.loads(payload)
    except ValueError:
        claims = None
    if not _well_formed(claims):
        raise DecisionRejected(TOKEN_MALFORMED, "the decision token's claims are not a gqlgov decision")
    return cast(dict[str, Any], claims)


def _well_formed(claims: Any) -> bool:
    """The claims this verifier relies on are present with the contract's types."""
    if not isinstance(claims, dict):
        return False
    if not all(isinstance(claims.get(name), str) for name in _STRING_CLAIMS):
        return False
    if not all(_is_number(claims.get(name)) for name in ("iat", "exp")):
        return False
    operation = claims.get("operation")
    return (
        isinstance(operation, dict)
        and isinstance(operation.get("type"), str)
        and isinstance(operation.get("root_fields"), list)
        and all(isinstance(field, str) for field in operation["root_fields"])
        and isinstance(operation.get("name"), str | None)
        and isinstance(claims.get("iam_role_arn"), str | None)
        and _act_well_formed(claims.get("act"))
    )


def _act_well_formed(act: Any) -> bool:
    """No `act` (the agent's own decision), or RFC 8693's actor naming the agent: `{"sub": name}`."""
    return act is None or (isinstance(act, dict) and isinstance(act.get("sub"), str))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _epoch(now: float | datetime | None) -> float:
    if now is None:
        return time.time()
    return now.timestamp() if isinstance(now, datetime) else float(now)


def _same(computed: str, signed: str) -> bool:
    return hmac.compare_digest(computed.encode(), signed.encode())
