"""The ASGI middleware, called directly as an ASGI server would: the verified body is replayed to
the app, refusals answer gqlgov's error shape, sockets to the guarded path are closed (no Django)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from graphql import build_schema, graphql_sync

from gqlgov_verify import (
    AGENT_MISMATCH,
    DOCUMENT_MISMATCH,
    TOKEN_EXPIRED,
    TOKEN_MALFORMED,
    TOKEN_REPLAYED,
    VARIABLES_MISMATCH,
    InMemoryReplayStore,
)
from gqlgov_verify.asgi import DecisionMiddleware
from tests.verify.factories import DELETE_MUTATION, graphql_body, jwks, make_token
from tests.verify.servers import SHOP_SDL


async def graphql_asgi(scope, receive, send):
    """A tiny ASGI GraphQL server (graphql-core) that reads its body the usual way."""
    if scope["type"] == "lifespan":
        await receive()
        await send({"type": "lifespan.startup.complete"})
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    request = json.loads(body)
    result = graphql_sync(
        build_schema(SHOP_SDL),
        request["query"],
        root_value={"orders": lambda info, first=None: []},
        variable_values=request.get("variables"),
        operation_name=request.get("operationName"),
    )
    payload = json.dumps({"data": result.data, "agent": scope["gqlgov.decision"]["sub"]}).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": payload})


def call(
    app,
    body: bytes | list[bytes],
    token: str | None,
    *,
    path: str = "/graphql",
    method: str = "POST",
    agent: str = "support-bot",
) -> tuple[int, dict[str, Any], dict[bytes, bytes]]:
    chunks = body if isinstance(body, list) else [body]
    incoming = [
        {"type": "http.request", "body": chunk, "more_body": n < len(chunks) - 1} for n, chunk in enumerate(chunks)
    ]
    incoming.append({"type": "http.disconnect"})
    headers = [(b"content-type", b"application/json"), (b"x-authenticated-agent", agent.encode())]
    if token is not None:
        headers.append((b"x-gqlgov-decision", token.encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": headers,
    }
    sent: list[dict] = []

    async def receive():
        return incoming.pop(0)

    async def send(message):
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start, response = sent[0], b"".join(message.get("body", b"") for message in sent[1:])
    return start["status"], json.loads(response), dict(start["headers"])


@pytest.fixture
def app(key):
    return DecisionMiddleware(
        graphql_asgi,
        jwks=jwks(key),
        replay_store=InMemoryReplayStore(),
        caller=lambda scope: dict(scope["headers"]).get(b"x-authenticated-agent", b"").decode(),
        max_body_bytes=64 * 1024,
    )


def error_of(answer) -> tuple[int, str]:
    status, body, headers = answer
    assert headers[b"content-type"] == b"application/json"
    return status, body["error"]["code"]


def test_the_checked_document_is_replayed_to_the_app_with_the_claims(app, key):
    status, body, _headers = call(app, graphql_body().encode(), make_token(key))

    assert (status, body) == (200, {"data": {"orders": []}, "agent": "support-bot"})


def test_a_body_in_several_chunks_is_verified_whole(app, key):
    raw = graphql_body().encode()

    assert call(app, [raw[:10], raw[10:30], raw[30:]], make_token(key))[0] == 200


@pytest.mark.parametrize(
    ("body", "token_args", "agent", "expected"),
    [
        (graphql_body(DELETE_MUTATION, None, None), {}, "support-bot", DOCUMENT_MISMATCH),
        (graphql_body(variables={"first": 2}), {}, "support-bot", VARIABLES_MISMATCH),
        (graphql_body(), {"issued_at": 0}, "support-bot", TOKEN_EXPIRED),
        (graphql_body(), {}, "reports-bot", AGENT_MISMATCH),
    ],
    ids=["other document", "other variables", "expired", "another agent"],
)
def test_a_refused_decision_answers_403_in_gqlgovs_error_shape(app, key, body, token_args, agent, expected):
    answer = call(app, body.encode(), make_token(key, **token_args), agent=agent)

    assert error_of(answer) == (403, expected)


def test_a_replayed_token_is_refused(app, key):
    token = make_token(key)

    assert call(app, graphql_body().encode(), token)[0] == 200
    assert error_of(call(app, graphql_body().encode(), token)) == (403, TOKEN_REPLAYED)


def test_a_streamed_body_over_the_bound_is_refused_without_buffering_the_rest(app, key):
    chunks = [b"x" * 40_000] * 3

    assert error_of(call(app, chunks, make_token(key))) == (413, "PAYLOAD_TOO_LARGE")


def test_only_post_is_admitted_and_without_a_token_nothing_is(app):
    assert error_of(call(app, b"", None, method="GET")) == (405, "METHOD_NOT_ALLOWED")
    assert error_of(call(app, graphql_body().encode(), None, path="/graphql/")) == (403, TOKEN_MALFORMED)


def test_a_websocket_to_the_guarded_path_is_closed_before_it_is_accepted(app):
    sent: list[dict] = []
    incoming = [{"type": "websocket.connect"}]

    async def receive():
        return incoming.pop(0)

    async def send(message):
        sent.append(message)

    asyncio.run(app({"type": "websocket", "path": "/graphql", "headers": []}, receive, send))

    assert sent == [{"type": "websocket.close", "code": 1008}]


def test_lifespan_and_other_paths_pass_through(key):
    seen: list[str] = []

    async def inner(scope, receive, send):
        seen.append(f"{scope['type']} {scope.get('path', '')}".strip())

    app = DecisionMiddleware(inner, jwks=jwks(key))

    async def nothing():
        return {}

    async def drop(message):
        return None

    asyncio.run(app({"type": "lifespan"}, nothing, drop))
    asyncio.run(app({"type": "http", "method": "GET", "path": "/health", "headers": []}, nothing, drop))

    assert seen == ["lifespan", "http /health"]
