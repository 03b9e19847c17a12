"""The WSGI middleware in front of a tiny graphql-core server on loopback: a decision admits its
document and nothing else, each refusal with its code (no Django here)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from gqlgov_verify import (
    AGENT_MISMATCH,
    DOCUMENT_MISMATCH,
    TOKEN_EXPIRED,
    TOKEN_MALFORMED,
    TOKEN_REPLAYED,
    VARIABLES_MISMATCH,
    InMemoryReplayStore,
)
from gqlgov_verify.wsgi import DecisionMiddleware
from tests.verify.factories import DELETE_MUTATION, ORDERS_QUERY, graphql_body, jwks, make_token
from tests.verify.servers import graphql_app, wsgi_server


def post(
    url: str, body: str | bytes, token: str | None = None, *, method: str = "POST", agent: str = "support-bot"
) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json", "X-Authenticated-Agent": agent}
    if token is not None:
        headers["X-Gqlgov-Decision"] = token
    data = body.encode() if isinstance(body, str) else body
    request = urllib.request.Request(url, data=data if method == "POST" else None, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        assert error.headers["Content-Type"] == "application/json"
        return error.code, json.loads(error.read())


def code(answer: tuple[int, dict]) -> tuple[int, str]:
    status, body = answer
    return status, body["error"]["code"]


@pytest.fixture
def server(key) -> Iterator[str]:
    """The GraphQL server behind the middleware, single use on, the caller named by a trusted proxy."""
    app = DecisionMiddleware(
        graphql_app,
        jwks=jwks(key),
        replay_store=InMemoryReplayStore(),
        caller=lambda environ: environ.get("HTTP_X_AUTHENTICATED_AGENT"),
        max_body_bytes=64 * 1024,
    )
    with wsgi_server(app) as url:
        yield url


def test_the_checked_document_with_its_token_is_executed(server, key):
    token = make_token(key, decision_id="d-7")

    status, body = post(f"{server}/graphql", graphql_body(), token)

    assert status == 200
    assert body == {"data": {"orders": [{"id": "o-1", "total": 42}]}, "decision_id": "d-7"}


def test_a_different_document_is_refused(server, key):
    token = make_token(key)

    assert code(post(f"{server}/graphql", graphql_body(DELETE_MUTATION, None, None), token)) == (403, DOCUMENT_MISMATCH)


def test_different_variables_are_refused(server, key):
    assert code(post(f"{server}/graphql", graphql_body(variables={"first": 500}), make_token(key))) == (
        403,
        VARIABLES_MISMATCH,
    )


def test_an_expired_token_is_refused(server, key):
    assert code(post(f"{server}/graphql", graphql_body(), make_token(key, issued_at=0))) == (403, TOKEN_EXPIRED)


def test_another_agents_token_is_refused(server, key):
    token = make_token(key, agent="reports-bot")

    assert code(post(f"{server}/graphql", graphql_body(), token)) == (403, AGENT_MISMATCH)


def test_a_token_replayed_with_single_use_on_is_refused(server, key):
    token = make_token(key)

    assert post(f"{server}/graphql", graphql_body(), token)[0] == 200
    assert code(post(f"{server}/graphql", graphql_body(), token)) == (403, TOKEN_REPLAYED)


def test_without_a_token_nothing_reaches_the_server(server):
    assert code(post(f"{server}/graphql", graphql_body())) == (403, TOKEN_MALFORMED)


@pytest.mark.parametrize("path", ["/graphql/", "//graphql", "/graphql/query.orders"])
def test_every_spelling_of_the_guarded_path_is_guarded(server, path):
    assert code(post(f"{server}{path}", graphql_body())) == (403, TOKEN_MALFORMED)


def test_a_get_with_the_query_in_the_url_is_refused(server):
    status, body = post(f"{server}/graphql?query={{orders{{id}}}}", b"", method="GET")

    assert (status, body["error"]["code"]) == (405, "METHOD_NOT_ALLOWED")


def test_a_body_over_the_bound_is_refused_before_it_is_read(server, key):
    body = json.dumps({"query": ORDERS_QUERY + " " * 70_000})

    assert code(post(f"{server}/graphql", body, make_token(key))) == (413, "PAYLOAD_TOO_LARGE")


def test_other_paths_pass_untouched(key):
    def health(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b'{"ok": true}']

    with wsgi_server(DecisionMiddleware(health, jwks=jwks(key), path="/api/graphql")) as url:
        assert post(f"{url}/health", b"{}") == (200, {"ok": True})
        assert code(post(f"{url}/api/graphql", b"{}")) == (403, TOKEN_MALFORMED)
