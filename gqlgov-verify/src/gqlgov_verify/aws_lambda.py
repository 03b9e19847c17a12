"""`lambda_guard`: a decorator for the AWS_PROXY Lambda function that serves GraphQL behind API Gateway.

It verifies the `X-Gqlgov-Decision` token against the event's body (`query`, `variables`,
`operationName`) and its caller (`requestContext.identity.userArn`, present on methods with
AWS_IAM authorization), then calls the handler with the verified claims in
`event["gqlgov_decision"]`. Otherwise it answers itself, without calling the handler:
403 `{"error": {"code", "message"}}` for a refused token, 400 / 405 / 413 for a request that is
no GraphQL POST.
"""

from __future__ import annotations

import base64
import binascii
import functools
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, overload

from gqlgov_verify.config import DEFAULT_MAX_BODY_BYTES, Verifier
from gqlgov_verify.errors import MALFORMED_REQUEST, METHOD_NOT_ALLOWED, RequestRefused
from gqlgov_verify.keys import KeySource
from gqlgov_verify.replay import ReplayStore
from gqlgov_verify.request import check_request, event_tokens, too_large

Handler = TypeVar("Handler", bound=Callable[[dict[str, Any], Any], Any])
JSON_HEADERS = {"Content-Type": "application/json"}


@overload
def lambda_guard(handler: Handler) -> Handler: ...
@overload
def lambda_guard(
    handler: None = None,
    *,
    jwks: KeySource | Mapping[str, Any] | str | None = None,
    issuer: str | None = None,
    replay_store: ReplayStore | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> Callable[[Handler], Handler]: ...
def lambda_guard(
    handler: Handler | None = None,
    *,
    jwks: KeySource | Mapping[str, Any] | str | None = None,
    issuer: str | None = None,
    replay_store: ReplayStore | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> Handler | Callable[[Handler], Handler]:
    """`@lambda_guard` (configured by `GQLGOV_*` environment variables) or `@lambda_guard(jwks=...)`."""

    def decorate(function: Handler) -> Handler:
        @functools.wraps(function)
        def guarded(event: dict[str, Any], context: Any) -> Any:
            # Built per invocation from cached parts, so the environment is read when the function runs.
            verifier = Verifier.build(jwks=jwks, issuer=issuer, replay_store=replay_store)
            try:
                claims = check_event(verifier, event, max_body_bytes=max_body_bytes)
            except RequestRefused as refusal:
                return proxy_response(refusal)
            return function({**event, "gqlgov_decision": claims}, context)

        return guarded  # type: ignore[return-value]

    return decorate(handler) if handler is not None else decorate


def check_event(verifier: Verifier, event: Mapping[str, Any], *, max_body_bytes: int) -> dict[str, Any]:
    """The claims admitting this REST API proxy event, else `RequestRefused`."""
    method = event.get("httpMethod")
    if method is not None and method != "POST":
        raise RequestRefused(405, METHOD_NOT_ALLOWED, "GraphQL requests are POSTed")
    tokens = event_tokens(event)
    identity = (event.get("requestContext") or {}).get("identity") or {}
    caller = identity.get("userArn") or None
    return check_request(
        verifier, tokens=tokens, body=_body(event, max_body_bytes), caller=caller, max_body_bytes=max_body_bytes
    )


def proxy_response(refusal: RequestRefused) -> dict[str, Any]:
    """The Lambda proxy integration's response for a refusal."""
    return {
        "statusCode": refusal.status,
        "headers": dict(JSON_HEADERS),
        "body": refusal.body().decode(),
        "isBase64Encoded": False,
    }


def _body(event: Mapping[str, Any], max_body_bytes: int) -> bytes:
    body = event.get("body")
    if body is None:
        return b""
    if not isinstance(body, str):
        raise RequestRefused(400, MALFORMED_REQUEST, "the event's body is not a string")
    if len(body) > max_body_bytes * 4 // 3 + 4:  # even base64 would decode to too much: do not decode
        raise too_large(max_body_bytes)
    if not event.get("isBase64Encoded"):
        return body.encode("utf-8", "surrogatepass")
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise RequestRefused(400, MALFORMED_REQUEST, "the event's body is not valid base64") from None
