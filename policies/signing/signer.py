"""The hot path of signed decisions: the active key per process, what an allow is bound to, the
token itself; and the JWK Set answer, cached alike.

A check never queries the database for its key: which key is active is re-read at most once per
GQLGOV_POLICY_REFRESH_S (one indexed query of its kid; the key is loaded again only when the kid
changed), and at once in the process that rotated. Other processes may sign with the previous key
for up to that long after a rotation, which `keys.overlap_s()` allows for.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import rfc8785
from django.conf import settings
from django.utils import timezone

from gqlgov import jsonfast
from gqlgov_verify.binding import variables_sha256
from policies.checks.caches import signing_cache
from policies.models import DecisionSigningKey
from policies.signing import jws, keys

logger = logging.getLogger("gqlgov.signing")
_UNBINDABLE = {
    rfc8785.IntegerDomainError: "an integer beyond 2**53",
    rfc8785.FloatDomainError: "a NaN or infinite number",
}
# Most checks send no variables (or {}): their digest, computed once by the binding module.
_NO_VARIABLES = variables_sha256(None)
_ACTIVE = "active"
_JWKS = "jwks"


@dataclass(frozen=True)
class ActiveKey:
    kid: str
    header: bytes  # the encoded JWS header, the same for every token of this key
    sign: jws.Signer


@dataclass(frozen=True)
class Binding:
    """What an allow's token will say it was decided for, and the key that will sign it."""

    document_sha256: str
    variables_sha256: str
    key: ActiveKey


class VariablesNotBindable(ValueError):
    """Variables RFC 8785 has no canonical form for: no verifier could recompute their digest."""


def bind(document_sha256: str, variables: dict[str, Any] | None) -> Binding:
    """The binding of an allow about to be admitted. Raises VariablesNotBindable, or
    SigningUnavailable (503) when no key can sign: before anything is charged or recorded."""
    return Binding(document_sha256, variables_digest(variables), active_key())


def variables_digest(variables: dict[str, Any] | None) -> str:
    """The SHA-256 of the variables' RFC 8785 form, as a token binds them; raises VariablesNotBindable."""
    if not variables:
        return _NO_VARIABLES
    try:
        return variables_sha256(variables)
    except (rfc8785.CanonicalizationError, UnicodeEncodeError) as error:
        # rfc8785 raises UnicodeEncodeError for a lone surrogate in an object key. Named by kind:
        # rfc8785's own message quotes the value, which may be a secret.
        kind = _UNBINDABLE.get(type(error), "a string with a lone surrogate")
        raise VariablesNotBindable(kind) from error


def mint(binding: Binding, *, subject: str, iam_role_arn: str, decision_id: str, schema: str,
         policy_version: int | None, operation: dict[str, Any], issued_at: datetime,
         on_behalf_of: str | None = None) -> str:
    """The decision token (compact JWS, ES256) of an admitted allow.

    On behalf of a person, as RFC 8693 (section 4.1) has it for delegation: `sub` is the person
    (`on_behalf_of`) and `act` the agent acting for them, `{"sub": subject}`; `iam_role_arn` stays
    the agent's, which makes the call.
    """
    iat = int(issued_at.timestamp())
    claims: dict[str, Any] = {
        "iss": settings.GQLGOV_PUBLIC_URL,
        "sub": on_behalf_of if on_behalf_of is not None else subject,
        "iat": iat,
        "exp": iat + settings.GQLGOV_DECISION_TOKEN_TTL_S,
        "jti": secrets.token_urlsafe(16),
        "decision_id": decision_id,
        "schema": schema,
        "policy_version": policy_version,
        "operation": {"name": operation.get("name"), "type": operation.get("type"),
                      "root_fields": list(operation.get("root_fields") or [])},
        "document_sha256": binding.document_sha256,
        "variables_sha256": binding.variables_sha256,
    }
    if on_behalf_of is not None:
        claims["act"] = {"sub": subject}
    if iam_role_arn:
        claims["iam_role_arn"] = iam_role_arn
    return jws.compact(binding.key.header, claims, binding.key.sign)


def active_key() -> ActiveKey:
    """This process's signing key, re-read when stale (the first key is made on first use).

    A key that cannot sign is tried again (and logged) once per refresh interval, not on every
    check: until then each allow answers the same SigningUnavailable.
    """
    cache = signing_cache()
    now = time.monotonic()
    cached = cache.get(_ACTIVE)
    if cached is not None and cached[0] > now:
        if isinstance(cached[1], str):
            raise keys.SigningUnavailable(cached[1])
        return cached[1]
    previous = cached[1] if cached is not None and isinstance(cached[1], ActiveKey) else None
    kid = DecisionSigningKey.objects.filter(active=True).values_list("kid", flat=True).first()
    if previous is not None and kid == previous.kid:
        key = previous
    else:
        try:
            key = _load(keys.ensure_active_key())
        except keys.SigningUnavailable as error:
            cache.put(_ACTIVE, (now + settings.GQLGOV_POLICY_REFRESH_S, error.message))
            raise
    cache.put(_ACTIVE, (now + settings.GQLGOV_POLICY_REFRESH_S, key))
    return key


def _load(row: DecisionSigningKey) -> ActiveKey:
    key = ActiveKey(row.kid, jws.header_segment(row.kid), keys.signer_for(row))
    if not keys.follows_settings(row):
        logger.warning("decision signing key %s is not kept as the KMS settings ask; run rotate_decision_key", row.kid)
    return key


def published_jwks() -> tuple[bytes, int]:
    """The JWK Set answer (never empty: the first key is made on first use) and its max-age.

    max-age is half the overlap: a verifier that refreshes its copy only when it expires holds
    the new key before the previous one leaves the set, and one that refetches on an unknown kid
    (PyJWT's PyJWKClient, gqlgov-verify) sees it at the first token it signs.
    """
    cache = signing_cache()
    now = time.monotonic()
    cached = cache.get(_JWKS)
    if cached is None or cached[0] <= now:
        keys.ensure_active_key()
        document = {"keys": [jws.published(key.kid, key.public_jwk) for key in keys.published_keys(timezone.now())]}
        cached = (now + settings.GQLGOV_POLICY_REFRESH_S, jsonfast.dumps(document))
        cache.put(_JWKS, cached)
    return cached[1], max(1, keys.overlap_s() // 2)
