"""Agents that authenticate with JWTs issued by the configured OIDC provider.

The provider's signing keys come from its JWKS endpoint and are cached per process. A token
signed with a key we do not know triggers one refetch (key rotation), but such refetches
are rate-limited so a flood of made-up `kid`s cannot hammer the provider; when the endpoint
is down, the keys fetched last keep working, and a failed fetch is retried after a backoff
that starts at one second and doubles up to UNSCHEDULED_FETCH_INTERVAL_S.
"""

import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any

import jwt
import requests
from django.conf import settings
from django.db import IntegrityError

from agents.identity import AuthError, Identity
from agents.models import Principal
from agents.selectors import free_principal_name
from agents.services import InvalidInput, principal_create
from gqlgov.errors import ApiError

logger = logging.getLogger(__name__)

# Symmetric algorithms and `none` are never accepted, whatever AGENT_JWT_ALGORITHMS says:
# keys come from a public JWKS, so only signatures made with a private key prove anything.
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
# Minimum seconds between JWKS fetches outside the cache schedule (unknown kid, retry after an outage).
UNSCHEDULED_FETCH_INTERVAL_S = 30
# The wait after a first failed fetch; it doubles with each further failure, up to the interval above.
# Short, so a worker that has no key yet serves again soon after the provider is back; one fetch at a
# time per process (the lock) and one per window, so an outage is never met by a stream of retries.
FIRST_RETRY_S = 1.0
JWKS_TIMEOUT_S = 5
# exp, nbf and iat must be JSON integers (PyJWT takes int() of anything, so "1999999999", 1e308 and
# 2**70 would pass) no later than the last second a datetime can show (9999-12-31T23:59:59Z).
_TIME_CLAIMS = ("exp", "nbf", "iat")
_LATEST_NUMERIC_DATE = 253_402_300_799
# Claims worth showing back to the caller; never the raw token.
_REPORTED_CLAIMS = ("iss", "sub", "aud", "azp", "client_id", "scope", "iat", "exp", "groups")


class SigningKeysUnavailable(ApiError):
    status = 503

    def __init__(self, url: str, retry_after_s: float = UNSCHEDULED_FETCH_INTERVAL_S) -> None:
        super().__init__(
            "IDP_UNAVAILABLE",
            f"The identity provider's signing keys ({url}) could not be fetched.",
            headers={"Retry-After": str(max(1, math.ceil(retry_after_s)))},
        )


class JwksKeys:
    """The signing keys published at one JWKS URL, cached and refreshed sparingly."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._keys: dict[str | None, jwt.PyJWK] = {}
        self._refresh_due = 0.0  # time.monotonic() after which the cached keys are refetched
        self._next_unknown_kid_fetch = 0.0
        self._failed_fetches = 0  # in a row, for the backoff
        self._lock = threading.Lock()

    def signing_key(self, kid: str | None) -> jwt.PyJWK | None:
        """The key with this `kid`, or None; raises SigningKeysUnavailable if no key was ever fetched."""
        with self._lock:
            now = time.monotonic()
            fetched_now = now >= self._refresh_due
            if fetched_now:
                self._fetch(now)
            # An unknown kid among known keys (a rotation) may fetch early; with no keys at all, the
            # backoff alone decides when to try again.
            if self._keys and kid not in self._keys and not fetched_now and now >= self._next_unknown_kid_fetch:
                self._next_unknown_kid_fetch = now + UNSCHEDULED_FETCH_INTERVAL_S
                self._fetch(now)
            if not self._keys:
                raise SigningKeysUnavailable(self.url, retry_after_s=self._refresh_due - time.monotonic())
            return self._keys.get(kid)

    def _fetch(self, now: float) -> None:
        try:
            response = requests.get(self.url, timeout=JWKS_TIMEOUT_S)
            response.raise_for_status()
            keys = _signing_keys(response.json())
        except (requests.RequestException, ValueError) as exc:
            # Keep the keys we have: a provider outage must not log every agent out.
            logger.warning("JWKS fetch failed", extra={"jwks_url": self.url, "error": str(exc)})
            self._failed_fetches += 1
            backoff = min(FIRST_RETRY_S * 2 ** (self._failed_fetches - 1), UNSCHEDULED_FETCH_INTERVAL_S)
            # Counted from the end of the attempt: a fetch that timed out is not followed by another at once.
            self._refresh_due = time.monotonic() + backoff
            return
        self._failed_fetches = 0
        self._keys = keys
        self._refresh_due = now + settings.AGENT_JWT_JWKS_CACHE_S


def _signing_keys(jwks: Any) -> dict[str | None, jwt.PyJWK]:
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
        raise ValueError("the answer is not a JWKS")
    keys = {}
    for data in jwks["keys"]:
        if not isinstance(data, dict) or data.get("use", "sig") != "sig" or data.get("kty") == "oct":
            continue
        try:
            key = jwt.PyJWK(data)
        except (jwt.PyJWKError, jwt.InvalidKeyError):
            continue  # a key type this service cannot use; others in the set may still sign
        keys[key.key_id] = key
    if not keys:
        raise ValueError("the JWKS holds no usable signing key")
    return keys


_jwks_by_url: dict[str, JwksKeys] = {}
_jwks_by_url_lock = threading.Lock()


def jwks_keys(url: str) -> JwksKeys:
    """The process-wide key cache for this JWKS URL."""
    with _jwks_by_url_lock:
        return _jwks_by_url.setdefault(url, JwksKeys(url))


def decode_verified(
    raw: str,
    *,
    jwks_url: str,
    audience: str | list[str],
    issuer: str | None,
    algorithms: list[str],
    leeway: int,
) -> dict[str, Any]:
    """The claims of a JWT whose signature, `exp`, `nbf`, `aud` and (if given) `iss` check out.

    Raises jwt.InvalidTokenError (jwt.ExpiredSignatureError when expired) or SigningKeysUnavailable.
    """
    header = jwt.get_unverified_header(raw)
    algorithms = [alg for alg in algorithms if alg in ASYMMETRIC_ALGORITHMS]
    if header.get("alg") not in algorithms:
        raise jwt.InvalidAlgorithmError(f"alg {header.get('alg')!r} is not accepted")
    key = jwks_keys(jwks_url).signing_key(header.get("kid"))
    if key is None:
        raise jwt.InvalidTokenError(f"signed with an unknown key (kid {header.get('kid')!r})")
    # Verifying with the PyJWK (not its raw key) makes PyJWT insist that the token's alg is the
    # key's own, so a token cannot pair an RSA key with an EC algorithm or the reverse.
    claims = jwt.decode(
        raw,
        key=key,
        algorithms=algorithms,
        audience=audience,
        issuer=issuer,
        leeway=leeway,
        options={"require": ["exp"]},
    )
    for name in _TIME_CLAIMS:
        value = claims.get(name)
        if name in claims and (type(value) is not int or not 0 <= value <= _LATEST_NUMERIC_DATE):
            raise jwt.InvalidTokenError(f"the {name} claim is not a whole number of seconds between 1970 and 9999")
    return claims


def verified_idp_claims(raw: str, *, refuse: Callable[[str, str], Exception], token_name: str,
                        not_configured: str) -> dict[str, Any]:
    """The claims of a JWT from the configured IdP for this API: signature (JWKS), issuer,
    audience and expiry checked. Every IdP token gqlgov accepts (an agent's bearer token, a
    person's `on_behalf_of`) goes through here.

    A token that does not verify raises `refuse(kind, message)`, kind "invalid" or "expired", the
    message naming why (`token_name` "has expired", "was refused: ..."; `not_configured` when no
    IdP is configured); SigningKeysUnavailable when the IdP's keys cannot be fetched.
    """
    issuer = settings.AGENT_JWT_ISSUER
    if not (issuer and settings.AGENT_JWT_AUDIENCE and settings.AGENT_JWT_JWKS_URL):
        raise refuse("invalid", not_configured)
    try:
        return decode_verified(
            raw,
            jwks_url=settings.AGENT_JWT_JWKS_URL,
            audience=settings.AGENT_JWT_AUDIENCE,
            issuer=issuer,
            algorithms=settings.AGENT_JWT_ALGORITHMS,
            leeway=settings.AGENT_JWT_LEEWAY_S,
        )
    except jwt.ExpiredSignatureError as exc:
        raise refuse("expired", f"{token_name} has expired.") from exc
    except jwt.InvalidTokenError as exc:
        raise refuse("invalid", f"{token_name} was refused: {exc}.") from exc


def reported_claims(claims: dict[str, Any]) -> dict[str, Any]:
    """The claims worth showing back (never the raw token)."""
    return {name: claims[name] for name in _REPORTED_CLAIMS if name in claims}


_AUTH_CODES = {"invalid": "INVALID_TOKEN", "expired": "TOKEN_EXPIRED"}


def authenticate_jwt(raw: str) -> Identity:
    """The principal an IdP-issued JWT names, or AuthError (INVALID_TOKEN, TOKEN_EXPIRED, UNKNOWN_AGENT)."""
    claims = verified_idp_claims(
        raw,
        refuse=lambda kind, message: AuthError(_AUTH_CODES[kind], message),
        token_name="The JWT",
        not_configured="JWT authentication is not configured on this server "
        "(AGENT_JWT_ISSUER, AGENT_JWT_AUDIENCE, AGENT_JWT_JWKS_URL); use an API token.",
    )
    subject = claims.get("sub") or claims.get("client_id") or claims.get("azp")
    if not isinstance(subject, str) or not subject:
        raise AuthError("INVALID_TOKEN", "The JWT names no subject (sub, client_id or azp).")
    principal = Principal.objects.filter(oidc_subject=subject).first()
    if principal is None:
        if not settings.AGENT_JWT_AUTO_PROVISION:
            raise AuthError("UNKNOWN_AGENT", f"No agent is registered for OIDC subject {subject!r}.")
        principal = _provision_agent(subject, settings.AGENT_JWT_ISSUER)
    return Identity(principal=principal, method="jwt", claims=reported_claims(claims))


def _provision_agent(subject: str, issuer: str) -> Principal:
    try:
        return principal_create(
            actor=f"idp:{issuer}",
            name=free_principal_name(subject),
            kind=Principal.Kind.AI,
            oidc_subject=subject,
        )
    except (InvalidInput, IntegrityError):
        # A concurrent first request of the same agent won the race; use what it created.
        principal = Principal.objects.filter(oidc_subject=subject).first()
        if principal is None:
            raise
        return principal
