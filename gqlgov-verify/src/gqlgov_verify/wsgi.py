"""`DecisionMiddleware`: a WSGI middleware admitting only GraphQL POSTs that carry a valid decision.

Requests to the guarded path (default `/graphql` and below) must be POSTs whose JSON body is the
document and variables the `X-Gqlgov-Decision` token was issued for; the app is called with the
verified claims in `environ["gqlgov.decision"]` and the body still readable. Other paths pass
untouched. Refusals answer `{"error": {"code", "message"}}` (403, or 400 / 405 / 413).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from typing import Any

from gqlgov_verify.errors import RequestRefused
from gqlgov_verify.http_guard import DECISION_KEY, GuardedApp
from gqlgov_verify.request import check_request, too_large

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
REASONS = {400: "Bad Request", 403: "Forbidden", 405: "Method Not Allowed", 413: "Payload Too Large"}


class DecisionMiddleware(GuardedApp[WsgiApp, dict[str, Any]]):
    """`DecisionMiddleware(app, jwks=..., issuer=..., replay_store=..., path=..., caller=...)`."""

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not self.guard.covers(environ.get("PATH_INFO", "")):
            return self.app(environ, start_response)
        try:
            self.guard.refuse_method(environ.get("REQUEST_METHOD", ""))
            body = self._read_body(environ)
            claims = check_request(
                self.guard.verifier,
                tokens=[environ["HTTP_X_GQLGOV_DECISION"]] if "HTTP_X_GQLGOV_DECISION" in environ else [],
                body=body,
                caller=self.caller_of(environ),
                max_body_bytes=self.guard.max_body_bytes,
            )
        except RequestRefused as refusal:
            payload = refusal.body()
            start_response(
                f"{refusal.status} {REASONS.get(refusal.status, 'Error')}",
                [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))],
            )
            return [payload]
        environ["wsgi.input"] = io.BytesIO(body)  # the app reads the very bytes that were verified
        environ["CONTENT_LENGTH"] = str(len(body))
        environ[DECISION_KEY] = claims
        return self.app(environ, start_response)

    def _read_body(self, environ: dict[str, Any]) -> bytes:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > self.guard.max_body_bytes:
            raise too_large(self.guard.max_body_bytes)  # refused before reading a byte of it
        data: bytes = environ["wsgi.input"].read(length) if length > 0 else b""
        return data
