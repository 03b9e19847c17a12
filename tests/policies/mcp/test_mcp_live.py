"""The official MCP Python client over HTTP against the production server configuration
(gunicorn with gqlgov/gunicorn.conf.py, tests/support/servers.py): discovery and the legacy
initialize handshake, tools/list, each tool, and the refusals of an unauthenticated caller and of
an IdP JWT issued for another audience."""

import json
import os

import anyio
import httpx2
import mcp_types
import pytest
import requests
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.support import servers
from tests.support.oidc_provider import AGENT_AUDIENCE, OIDCProvider
from tests.support.production_server import deploy, first_traceback, server_log
from tests.support.redis_server import RedisServer

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

ALLOWED = "{ orders(first: 2) { edges { node { id } } } }"
REFUND = "mutation Refund($id: ID!) { refundOrder(id: $id) { id } }"


@pytest.fixture(scope="module")
def idp():
    provider = OIDCProvider().start()
    yield provider
    provider.stop()


@pytest.fixture(scope="module")
def live(tmp_path_factory, idp):
    """gunicorn serving a seeded deployment whose agents may also sign in with the loopback IdP's
    JWTs; one for the module, since the tests only read (and the server takes seconds to start)."""
    workdir = tmp_path_factory.mktemp("mcp-live")
    redis = RedisServer(workdir)
    redis.start()
    try:
        with servers.bench_database(workdir, os.environ.get("DATABASE_URL")) as database_url:
            deployment = deploy(workdir, database_url, redis.url, AGENT_JWT_ISSUER=idp.issuer,
                                AGENT_JWT_AUDIENCE=AGENT_AUDIENCE, AGENT_JWT_JWKS_URL=idp.jwks_url)
            deployment.environment.manage("create_agent", "jwt-bot", "--kind", "ai", "--group", "support",
                                          "--oidc-subject", "agent-sub-1")
            with servers.drainer(deployment.environment), \
                    servers.web_server(deployment.environment, "gunicorn", 1) as (base, _process):
                yield base, deployment
    finally:
        redis.kill()
    log = server_log(workdir)
    assert "Traceback" not in log, first_traceback(log)


def with_client(base: str, token: str | None, work, mode: str = "auto"):
    """`work(client)` run with the official client connected to base/mcp, with `token` as bearer."""
    async def main():
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with httpx2.AsyncClient(headers=headers, timeout=30) as http, \
                Client(streamable_http_client(f"{base}/mcp", http_client=http), mode=mode) as client:
            return await work(client)

    return anyio.run(main)


def test_the_official_client_uses_every_tool_over_http(live):
    base, deployment = live

    async def work(client):
        listed = await client.list_tools()
        operations = await client.call_tool("list_operations", {})
        schema = await client.call_tool("get_schema", {"schema": "shop", "operations": ["query.orders"]})
        allowed = await client.call_tool("check_graphql", {"schema": "shop", "query": ALLOWED})
        refund = await client.call_tool("check_graphql", {"schema": "shop", "query": REFUND, "variables": {"id": "1"}})
        approval = await client.call_tool("get_approval",
                                          {"approval_id": refund.structured_content["approval"]["id"]})
        explained = await client.call_tool("explain_decision",
                                           {"decision_id": allowed.structured_content["decision_id"]})
        return client.protocol_version, listed, operations, schema, allowed, refund, approval, explained

    version, listed, operations, schema, allowed, refund, approval, explained = with_client(
        base, deployment.token, work)

    assert version == mcp_types.LATEST_PROTOCOL_VERSION
    assert {tool.name for tool in listed.tools} == {"check_graphql", "get_schema", "list_operations",
                                                    "get_approval", "explain_decision"}
    assert any(entry["schema"] == "shop" for entry in operations.structured_content["schemas"])
    assert "type Query" in schema.structured_content["sdl"]
    assert allowed.is_error is False and allowed.structured_content["decision"] == "allow"
    rest = requests.post(f"{base}/api/v1/check", json={"schema": "shop", "query": ALLOWED}, timeout=10,
                         headers={"Authorization": f"Bearer {deployment.token}"}).json()
    assert rest["decision"] == "allow" and rest["reasons"] == allowed.structured_content["reasons"]
    assert refund.structured_content["decision"] == "pending_approval"
    assert approval.structured_content["status"] == "pending"
    assert explained.structured_content["decision"] == "allow"


def test_the_legacy_initialize_handshake_works_statelessly(live):
    base, deployment = live

    async def work(client):
        result = await client.call_tool("check_graphql", {"schema": "shop", "query": ALLOWED})
        return client.server_info, result

    server_info, result = with_client(base, deployment.token, work, mode="legacy")

    assert server_info is not None and server_info.name == "gqlgov"
    assert result.structured_content["decision"] == "allow"


def test_an_idp_jwt_for_the_agent_is_accepted(live, idp):
    base, _deployment = live
    token = idp.issue_token(sub="agent-sub-1", aud=AGENT_AUDIENCE)

    async def work(client):
        return await client.call_tool("list_operations", {})

    result = with_client(base, token, work)

    assert result.structured_content["agent"]["name"] == "jwt-bot"


def post_initialize(base: str, token: str | None) -> requests.Response:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": {
        "io.modelcontextprotocol/protocolVersion": mcp_types.LATEST_PROTOCOL_VERSION,
        "io.modelcontextprotocol/clientCapabilities": {}}}}
    headers = {"Accept": "application/json, text/event-stream", "MCP-Protocol-Version":
               mcp_types.LATEST_PROTOCOL_VERSION, "Mcp-Method": "tools/list",
               **({"Authorization": f"Bearer {token}"} if token else {})}
    return requests.post(f"{base}/mcp", data=json.dumps(body), headers={**headers, "Content-Type":
                                                                        "application/json"}, timeout=10)


def test_an_unauthenticated_call_gets_401_naming_the_metadata_the_client_can_follow(live):
    base, _deployment = live

    response = post_initialize(base, None)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "AUTHENTICATION_REQUIRED"
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer resource_metadata="') and "/.well-known/oauth-protected-resource" in challenge
    metadata = requests.get(f"{base}/.well-known/oauth-protected-resource", timeout=10).json()
    assert metadata["resource"].endswith("/mcp") and metadata["bearer_methods_supported"] == ["header"]
    with pytest.raises(Exception):  # noqa: B017  the client gives up: it holds no credential
        with_client(base, None, lambda client: client.list_tools())


def test_a_jwt_issued_for_another_audience_gets_401(live, idp):
    base, _deployment = live
    token = idp.issue_token(sub="agent-sub-1", aud="https://another-api.example.com")

    response = post_initialize(base, token)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "INVALID_TOKEN"
    assert response.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token", resource_metadata="')
