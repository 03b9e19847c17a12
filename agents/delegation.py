"""A person's IdP access token sent by an agent acting for them (`on_behalf_of`): verified as
every IdP JWT (agents.jwt.verified_idp_claims) and mapped to the human principal by `sub`, as the
OIDC login matches people. Who may act for whom: any authenticated agent may present a valid
token of a person; the check then decides the intersection of both sides' rules, so the token
only ever narrows what the agent may do."""

from __future__ import annotations

from dataclasses import dataclass

from agents.identity import Identity
from agents.jwt import reported_claims, verified_idp_claims
from agents.models import Principal
from gqlgov.errors import ApiError

# A person's access token is a few kB at most; anything longer is not one (and is not parsed).
MAX_TOKEN_CHARS = 16 * 1024


class DelegationRefused(ApiError):
    """The `on_behalf_of` token is not a valid token of the configured IdP (it is never quoted)."""

    status = 403


@dataclass(frozen=True)
class Delegator:
    """The person a check is made for: their verified `sub`, and their identity (None: no person
    is registered for that subject)."""

    subject: str
    identity: Identity | None


def delegator_from_token(raw: str) -> Delegator:
    """The person `raw` (their IdP access token) names; DelegationRefused (403,
    DELEGATION_TOKEN_INVALID or DELEGATION_TOKEN_EXPIRED) saying why when it does not verify."""
    claims = verified_idp_claims(
        raw,
        # PyJWT's reasons never quote the token; replaced all the same, should one ever do.
        refuse=lambda kind, message: DelegationRefused(f"DELEGATION_TOKEN_{kind.upper()}",
                                                      message.replace(raw, "(the token)") if raw else message),
        token_name="The on_behalf_of token",
        not_configured="Acting on behalf of a person needs IdP JWTs configured on this server "
        "(AGENT_JWT_ISSUER, AGENT_JWT_AUDIENCE, AGENT_JWT_JWKS_URL).",
    )
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise DelegationRefused("DELEGATION_TOKEN_INVALID", "The on_behalf_of token names no person (no sub claim).")
    # Only a human principal can be acted for: an agent's or a service's token names no person.
    principal = Principal.objects.filter(oidc_subject=subject, kind=Principal.Kind.HUMAN).first()
    if principal is None:
        return Delegator(subject, None)
    return Delegator(subject, Identity(principal=principal, method="jwt", claims=reported_claims(claims)))
