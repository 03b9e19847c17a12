"""Who is calling (`Identity`) and the 401 every way of proving it raises (`AuthError`).

Apart from `agents.auth` so that each authenticator (API tokens there, IdP JWTs in
`agents.jwt`) can use both without importing the other.
"""

from dataclasses import dataclass, field
from typing import Any

from agents.models import Principal
from gqlgov.errors import ApiError


class AuthError(ApiError):
    status = 401

    def __init__(self, code: str, message: str) -> None:
        challenge = f'Bearer realm="gqlgov", error="{code.lower()}"'
        super().__init__(code, message, headers={"WWW-Authenticate": challenge})


@dataclass(frozen=True)
class Identity:
    """Who is calling and how they proved it."""

    principal: Principal
    method: str  # "api_token" | "jwt"
    claims: dict[str, Any] = field(default_factory=dict)
    token_prefix: str = ""
    # A cached identity's auth generation (agents/identity_cache.py) that must still be current
    # before anything is done for this request; None when confirmed or not cached.
    unconfirmed_generation: str | None = None
