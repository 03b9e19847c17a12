"""POST /mcp through the Django test client: the SDK's stateless JSON exchange, the tools, and
the HTTP-level refusals (401 with the protected-resource metadata, 405, 413) in the one error shape."""

import json

import mcp_types
import pytest

from tests.conftest import bearer, issue_token_for, make_principal

pytestmark = pytest.mark.django_db

VERSION = mcp_types.LATEST_PROTOCOL_VERSION
ENVELOPE = {"io.modelcontextprotocol/protocolVersion": VERSION, "io.modelcontextprotocol/clientCapabilities": {}}


def rpc(client, token, method, params=None, *, request_id=1, headers=None):
    body = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": {**(params or {}), "_meta": ENVELOPE}}
    extra = {"HTTP_ACCEPT": "application/json, text/event-stream", "HTTP_MCP_PROTOCOL_VERSION": VERSION,
             "HTTP_MCP_METHOD": method, **(bearer(token) if token else {}), **(headers or {})}
    if method == "tools/call":
        extra["HTTP_MCP_NAME"] = params["name"]
    return client.post("/mcp", json.dumps(body), content_type="application/json", **extra)


def call_tool(client, token, name, arguments):
    response = rpc(client, token, "tools/call", {"name": name, "arguments": arguments})
    assert response.status_code == 200, response.content
    return response.json()["result"]


def test_tools_list_names_the_five_tools(client, shop, agent_token):
    response = rpc(client, agent_token, "tools/list")

    assert response.status_code == 200, response.content
    tools = {tool["name"]: tool for tool in response.json()["result"]["tools"]}
    assert set(tools) == {"check_graphql", "get_schema", "list_operations", "get_approval", "explain_decision"}
    assert "query" in tools["check_graphql"]["inputSchema"]["properties"]


def test_check_graphql_answers_what_post_check_answers(client, shop, agent_token):
    arguments = {"schema": "shop", "query": "{ order(id: 1) { id } }"}
    rest = client.post("/api/v1/check", json.dumps(arguments), content_type="application/json",
                       **bearer(agent_token)).json()

    result = call_tool(client, agent_token, "check_graphql", arguments)

    assert result["isError"] is False
    answer = result["structuredContent"]
    assert answer["decision"] == rest["decision"] == "allow"
    assert answer["decision_id"] != rest["decision_id"]
    assert json.loads(result["content"][0]["text"]) == answer
