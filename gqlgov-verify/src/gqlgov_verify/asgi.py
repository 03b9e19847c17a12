"""`DecisionMiddleware`: the ASGI twin of `gqlgov_verify.wsgi.DecisionMiddleware`.

On the guarded path (default `/graphql` and below) an HTTP request must be a POST whose body is the
document and variables its `X-Gqlgov-Decision` token was issued for; the body is read (bounded),
verified, and replayed to the app, with the claims in `scope["gqlgov.decision"]`. WebSocket
connections to the guarded path are closed (1008): a subscription sent over a socket would carry
no token this middleware can check. Lifespan and other paths pass through.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from gqlgov_verify.errors import RequestRefused
from gqlgov_verify.http_guard import DECISION_KEY, GuardedApp
from gqlgov_verify.request import check_request, header_values, too_large

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]
POLICY_VIOLATION = 1008


class DecisionMiddleware(GuardedApp[AsgiApp, Scope]):
    """`DecisionMiddleware(app, jwks=..., issuer=..., replay_store=..., path=..., caller=...)`."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not self.guard.covers(scope.get("path", "")):
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await receive()  # websocket.connect: closing before accepting refuses the handshake (403)
            await send({"type": "websocket.close", "code": POLICY_VIOLATION})
        else:
            await self._http(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            self.guard.refuse_method(scope.get("method", ""))
            body = await self._read_body(receive)
            headers = ((key.decode("latin-1"), value.decode("latin-1")) for key, value in scope.get("headers", ()))
            claims = check_request(
                self.guard.verifier,
                tokens=header_values(headers),
                body=body,
                caller=self.caller_of(scope),
                max_body_bytes=self.guard.max_body_bytes,
            )
        except RequestRefused as refusal:
            await _answer(send, refusal)
            return
        await self.app({**scope, DECISION_KEY: claims}, _replay(body, receive), send)

    async def _read_body(self, receive: Receive) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.guard.max_body_bytes:
                raise too_large(self.guard.max_body_bytes)  # stop reading: the rest is never buffered
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the app the verified body once, then whatever the client sends next."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replayed() -> Message:
        return pending.pop() if pending else await receive()

    return replayed


async def _answer(send: Send, refusal: RequestRefused) -> None:
    payload = refusal.body()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": refusal.status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
