"""The whole loop with real parts: gqlgov served over HTTP decides a check and signs it; a
graphql-core server on loopback behind gqlgov-verify's WSGI middleware, which fetches gqlgov's
JWKS over HTTP, executes exactly the document that was allowed, once, for the agent it was
allowed to, and refuses everything else with its code. The Lambda decorator closes the former
bypass: a document gqlgov denied gets no token, so the backend never runs it."""

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
import requests
from graphql import build_schema, graphql_sync

from agents.services import principal_create
from gqlgov_verify import InMemoryReplayStore, JwksClient, lambda_guard
from gqlgov_verify.wsgi import DecisionMiddleware
from tests.conftest import issue_token_for
from tests.policies.conftest import SHOP_POLICY, SHOP_SDL, activate_policy
from tests.verify.factories import proxy_event
from tests.verify.servers import wsgi_server

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

JWKS_PATH = "/api/v1/.well-known/jwks.json"
ORDERS = "query Orders($n: Int) { orders(first: $n) { edges { node { id } } } }"
SHOP = build_schema(SHOP_SDL)
DELETE = 'mutation { deleteOrder(id: "1") { id } }'


@pytest.fixture
def gqlgov(live_server, settings) -> str:
    """gqlgov on a live HTTP server with the shop schema and its approved policy."""
    from policies.services import schema_register

    settings.GQLGOV_PUBLIC_URL = live_server.url
    schema_register(actor="test", name="shop", sdl=SHOP_SDL)
    activate_policy(SHOP_POLICY)
    return live_server.url


@pytest.fixture
def agents(gqlgov) -> dict[str, str]:
    """Two support agents and their API tokens."""
    tokens = {}
    for name in ("support-bot", "billing-bot"):
        principal = principal_create(actor="test", name=name, kind="ai", groups=["support"])
        tokens[name] = issue_token_for(principal)
    return tokens


def decision(gqlgov: str, api_token: str, query: str, variables: dict | None = None) -> dict:
    body = {"schema": "shop", "query": query, **({"variables": variables} if variables is not None else {})}
    response = requests.post(
        f"{gqlgov}/api/v1/check", json=body, headers={"Authorization": f"Bearer {api_token}"}, timeout=10
    )
    assert response.status_code == 200, response.text
    return response.json()


def shop_server(environ, start_response):
    """The GraphQL backend: the shop schema, executed by graphql-core (a shop without orders)."""
    request = json.loads(environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)))
    result = graphql_sync(SHOP, request["query"], root_value={"orders": lambda info, **args: {"edges": []}},
                          variable_values=request.get("variables"))
    body = json.dumps({"data": result.data, "decision_id": environ["gqlgov.decision"]["decision_id"]}).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


@pytest.fixture
def backend(gqlgov) -> Iterator[str]:
    """The backend behind the middleware: keys from gqlgov's JWKS over HTTP, single use on, the
    caller named by the authenticating proxy in front of it."""
    app = DecisionMiddleware(
        shop_server,
        jwks=JwksClient(gqlgov + JWKS_PATH),
        issuer=gqlgov,
        replay_store=InMemoryReplayStore(),
        caller=lambda environ: environ.get("HTTP_X_AUTHENTICATED_AGENT"),
    )
    with wsgi_server(app) as url:
        yield url + "/graphql"


def send(url: str, query: str, token: str | None, *, variables: dict | None = None,
         agent: str = "support-bot") -> tuple[int, dict]:
    headers = {"Content-Type": "application/json", "X-Authenticated-Agent": agent}
    if token is not None:
        headers["X-Gqlgov-Decision"] = token
    data = json.dumps({"query": query, "variables": variables}).encode()
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def refusal(answer: tuple[int, dict]) -> tuple[int, str]:
    status, body = answer
    return status, body["error"]["code"]


def test_the_allowed_document_runs_once_and_every_other_request_is_refused_with_its_code(agents, backend, gqlgov):
    allowed = decision(gqlgov, agents["support-bot"], ORDERS, {"n": 5})
    token = allowed["decision_token"]

    status, body = send(backend, ORDERS, token, variables={"n": 5})
    assert status == 200 and body["decision_id"] == allowed["decision_id"]
    assert body["data"] == {"orders": {"edges": []}}

    fresh = decision(gqlgov, agents["support-bot"], ORDERS, {"n": 5})["decision_token"]
    assert refusal(send(backend, ORDERS + " ", fresh, variables={"n": 5})) == (403, "DOCUMENT_MISMATCH")
    assert refusal(send(backend, ORDERS, fresh, variables={"n": 500})) == (403, "VARIABLES_MISMATCH")
    assert refusal(send(backend, ORDERS, fresh, variables={"n": 5}, agent="billing-bot")) == (403, "AGENT_MISMATCH")
    assert refusal(send(backend, ORDERS, token, variables={"n": 5})) == (403, "TOKEN_REPLAYED")


def test_an_expired_decision_is_refused(agents, backend, gqlgov, settings):
    settings.GQLGOV_DECISION_TOKEN_TTL_S = 1
    token = decision(gqlgov, agents["support-bot"], ORDERS, {"n": 5})["decision_token"]

    time.sleep(1 + 5 + 0.5)  # the TTL and the verifier's clock-skew leeway (5 s)

    assert refusal(send(backend, ORDERS, token, variables={"n": 5})) == (403, "TOKEN_EXPIRED")


def test_a_mutation_gqlgov_denied_never_reaches_the_backend_behind_the_lambda_decorator(agents, gqlgov):
    denied = decision(gqlgov, agents["support-bot"], DELETE)
    assert denied["decision"] == "deny" and "decision_token" not in denied
    ran = []

    @lambda_guard(jwks=JwksClient(gqlgov + JWKS_PATH), issuer=gqlgov)
    def handler(event, context):
        ran.append(event)
        return {"statusCode": 200, "body": "{}"}

    without_token = handler(proxy_event(json.dumps({"query": DELETE}), None, user_arn=None), None)
    other_token = decision(gqlgov, agents["support-bot"], "{ orders(first: 1) { totalCount } }")["decision_token"]
    with_anothers_token = handler(proxy_event(json.dumps({"query": DELETE}), other_token, user_arn=None), None)

    assert without_token["statusCode"] == 403
    assert with_anothers_token["statusCode"] == 403
    assert json.loads(with_anothers_token["body"])["error"]["code"] == "DOCUMENT_MISMATCH"
    assert ran == []
