"""What the WSGI and ASGI middlewares share: which paths they guard and how they are configured."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from gqlgov_verify.config import DEFAULT_MAX_BODY_BYTES, Verifier
from gqlgov_verify.errors import METHOD_NOT_ALLOWED, RequestRefused
from gqlgov_verify.keys import KeySource
from gqlgov_verify.replay import ReplayStore

DEFAULT_PATH = "/graphql"
DECISION_KEY = "gqlgov.decision"  # where the verified claims are put in the WSGI environ / ASGI scope


@dataclass(frozen=True)
class Guard:
    verifier: Verifier
    path: str
    max_body_bytes: int

    @classmethod
    def build(
        cls,
        *,
        jwks: KeySource | Mapping[str, Any] | str | None,
        issuer: str | None,
        replay_store: ReplayStore | None,
        path: str,
        max_body_bytes: int,
    ) -> Guard:
        verifier = Verifier.build(jwks=jwks, issuer=issuer, replay_store=replay_store)
        return cls(verifier, _normalise(path), max_body_bytes)

    def covers(self, path: str) -> bool:
        """The guarded path and everything under it (`/graphql/query.orders`), however slashed."""
        normalised = _normalise(path)
        return normalised == self.path or normalised.startswith(self.path + "/")

    def refuse_method(self, method: str) -> None:
        # Not only POST is guarded: a GET with `?query=` would otherwise reach the server unchecked.
        if method != "POST":
            raise RequestRefused(405, METHOD_NOT_ALLOWED, "only POST is admitted on the GraphQL endpoint")


def _normalise(path: str) -> str:
    return re.sub(r"/{2,}", "/", path).rstrip("/") or "/"


App = TypeVar("App")
Request = TypeVar("Request")  # the WSGI environ or the ASGI scope


class GuardedApp(Generic[App, Request]):
    """A middleware's configuration: the wrapped app, its guard, and who the caller is.

    `caller(environ_or_scope)` names the caller (an agent name or an IAM ARN) when the server knows
    it, e.g. from an authenticating proxy; without it the token's agent is not compared.
    """

    def __init__(
        self,
        app: App,
        *,
        jwks: KeySource | Mapping[str, Any] | str | None = None,
        issuer: str | None = None,
        replay_store: ReplayStore | None = None,
        path: str = DEFAULT_PATH,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        caller: Callable[[Request], str | None] | None = None,
    ) -> None:
        self.app = app
        self.guard = Guard.build(
            jwks=jwks, issuer=issuer, replay_store=replay_store, path=path, max_body_bytes=max_body_bytes
        )
        self.caller = caller

    def caller_of(self, request: Request) -> str | None:
        return self.caller(request) if self.caller else None
