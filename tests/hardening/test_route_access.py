"""Security review: every /api/v1/ route refuses callers it is not for; secrets never reach the logs."""

import json
import logging

import pytest
from django.test import Client
from ninja.openapi.schema import get_schema

from agents.tokens import parse_token
from gqlgov.api import api
from tests.conftest import bearer, issue_token_for, make_principal

pytestmark = pytest.mark.django_db

PUBLIC = {("GET", "/api/v1/health"), ("GET", "/api/v1/ready"), ("GET", "/api/v1/openapi.json"), ("GET", "/api/v1/docs"),
          ("GET", "/api/v1/.well-known/jwks.json")}
STAFF_ONLY = {"register_schema_version", "get_schema", "get_metrics", "register_api_version", "get_api"}


def operations():
    schema = get_schema(api, path_prefix="/api/v1")
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            concrete = path.replace("{name}", "shop").replace("{decision_id}", "00000000-0000-0000-0000-000000000000")
            yield method.upper(), concrete, operation["operationId"]


def call(client, method, path, **extra):
    if method == "GET":
        return client.get(path, **extra)
    return client.generic(method, path, data=b"{}", content_type="application/json", **extra)


def test_every_route_but_the_probes_refuses_anonymous_callers(client):
    seen = 0
    for method, path, _operation in operations():
        if (method, path) in PUBLIC:
            continue
        seen += 1
        response = call(client, method, path)
        assert response.status_code == 401, (method, path)
    assert seen >= 5


def test_agents_are_refused_on_staff_routes(client, agent_token):
    refused = 0
    for method, path, operation in operations():
        if operation in STAFF_ONLY:
            response = call(client, method, path, **bearer(agent_token))
            assert response.status_code == 403, (method, path)
            refused += 1
    assert refused == len(STAFF_ONLY)


def test_one_agent_cannot_read_another_agents_decision(client, shop, agent_token):
    body = {"schema": "shop", "query": "{ orders(first: 1) { totalCount } }"}
    decision_id = client.post("/api/v1/check", json.dumps(body), content_type="application/json",
                              **bearer(agent_token)).json()["decision_id"]
    other = issue_token_for(make_principal("other-bot", "ai"))
    assert client.get(f"/api/v1/decisions/{decision_id}", **bearer(other)).status_code == 404
    assert client.get(f"/api/v1/decisions/{decision_id}", **bearer(agent_token)).status_code == 200


def test_tokens_never_reach_the_logs(client, shop, agent_token, caplog):
    caplog.set_level(logging.DEBUG)
    body = {"schema": "shop", "query": "{ orders(first: 1) { totalCount } }"}
    client.post("/api/v1/check", json.dumps(body), content_type="application/json", **bearer(agent_token))
    client.get("/api/v1/agents/me", **bearer(agent_token + "x"))
    client.get("/api/v1/agents/me", **bearer("not-a-token-" + agent_token[-20:]))
    secret_part = parse_token(agent_token).secret  # the secret may itself contain "_"
    assert secret_part not in caplog.text
    assert agent_token not in caplog.text


def test_the_admin_login_enforces_csrf(staff_user):
    strict = Client(enforce_csrf_checks=True)
    response = strict.post("/admin/login/", {"username": "alice", "password": "correct-horse-battery"})
    assert response.status_code == 403
    page = strict.get("/admin/login/")
    token = page.cookies["csrftoken"].value
    response = strict.post("/admin/login/", {"username": "alice", "password": "correct-horse-battery",
                                             "csrfmiddlewaretoken": token})
    assert response.status_code == 302
