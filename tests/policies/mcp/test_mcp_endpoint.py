"""POST /mcp through the Django test client: the SDK's stateless JSON exchange at the current
protocol revision, each tool against its REST twin, and the refusals: HTTP-level ones (401 with
the protected-resource metadata, 405, 413) in the one error shape, protocol-level ones as JSON-RPC
errors, bad tool input as a tool result with isError."""

import json

import graphql
import mcp_types
import pytest

from tests.conftest import bearer, issue_token_for, make_principal

pytestmark = pytest.mark.django_db

VERSION = mcp_types.LATEST_PROTOCOL_VERSION
ENVELOPE = {"io.modelcontextprotocol/protocolVersion": VERSION, "io.modelcontextprotocol/clientCapabilities": {}}
REFUND = "mutation Refund($id: ID!) { refundOrder(id: $id) { id } }"


def rpc(client, token, method, params=None, *, body=None, headers=None):
    body = body or {"jsonrpc": "2.0", "id": 1, "method": method, "params": {**(params or {}), "_meta": ENVELOPE}}
    extra = {"HTTP_ACCEPT": "application/json, text/event-stream", "HTTP_MCP_PROTOCOL_VERSION": VERSION,
             "HTTP_MCP_METHOD": method, **(bearer(token) if token else {}), **(headers or {})}
    if method == "tools/call":
        extra["HTTP_MCP_NAME"] = (params or {}).get("name", "")
    return client.post("/mcp", body if isinstance(body, str) else json.dumps(body), content_type="application/json",
                       **extra)


def call_tool(client, token, name, arguments):
    response = rpc(client, token, "tools/call", {"name": name, "arguments": arguments})
    assert response.status_code == 200, response.content
    result = response.json()["result"]
    assert json.loads(result["content"][0]["text"]) == result["structuredContent"]
    return result


def rest_check(client, token, body):
    return client.post("/api/v1/check", json.dumps(body), content_type="application/json", **bearer(token)).json()


def comparable(answer: dict) -> dict:
    """A check's answer without what differs between two checks (their ids and tokens)."""
    return {key: value for key, value in answer.items() if key not in ("decision_id", "decision_token", "approval")}


def test_tools_list_names_the_five_tools_with_json_schemas(client, shop, agent_token):
    response = rpc(client, agent_token, "tools/list")

    assert response.status_code == 200, response.content
    tools = {tool["name"]: tool for tool in response.json()["result"]["tools"]}
    assert set(tools) == {"check_graphql", "get_schema", "list_operations", "get_approval", "explain_decision"}
    assert {"query", "schema", "variables", "operationName", "context", "approval_id"} <= set(
        tools["check_graphql"]["inputSchema"]["properties"])
    assert all(tool["outputSchema"]["type"] == "object" and tool["description"] for tool in tools.values())
    assert "list_operations" in tools["check_graphql"]["description"]  # what to call first


def test_check_graphql_allows_what_post_check_allows_with_a_decision_token(client, shop, agent_token):
    arguments = {"schema": "shop", "query": "{ order(id: 1) { id } }"}
    rest = rest_check(client, agent_token, arguments)

    result = call_tool(client, agent_token, "check_graphql", arguments)

    assert result["isError"] is False
    answer = result["structuredContent"]
    assert comparable(answer) == comparable(rest)
    assert answer["decision"] == "allow" and answer["decision_token"].count(".") == 2
    assert answer["decision_id"] != rest["decision_id"]


def test_check_graphql_denies_with_the_same_reasons_hints_and_suggested_query(client, shop, agent_token):
    # Over the rule's cost limit: a denial about visible names, so it carries a suggested query.
    arguments = {"schema": "shop", "query": "{ orders(first: 100000) { edges { node { id } } } }"}
    rest = rest_check(client, agent_token, arguments)

    answer = call_tool(client, agent_token, "check_graphql", arguments)["structuredContent"]

    assert answer["decision"] == rest["decision"] == "deny"
    assert comparable(answer) == comparable(rest)
    assert answer["reasons"] and "hints" in answer


def test_check_graphql_records_the_decision_the_caller_can_explain(client, shop, agent_token):
    decided = call_tool(client, agent_token, "check_graphql", {"schema": "shop", "query": "{ order(id: 1) { id } }"})
    decision_id = decided["structuredContent"]["decision_id"]

    explained = call_tool(client, agent_token, "explain_decision", {"decision_id": decision_id})
    rest = client.get(f"/api/v1/decisions/{decision_id}", **bearer(agent_token)).json()

    assert explained["isError"] is False
    assert explained["structuredContent"] == rest
    assert rest["decision"] == "allow"


def test_explain_decision_of_another_agents_decision_is_not_found(client, shop, agent_token):
    other = issue_token_for(make_principal("other-bot", "ai", groups=["support"]))
    decided = call_tool(client, other, "check_graphql", {"schema": "shop", "query": "{ order(id: 1) { id } }"})

    result = call_tool(client, agent_token, "explain_decision",
                       {"decision_id": decided["structuredContent"]["decision_id"]})

    assert result["isError"] is True
    assert result["structuredContent"]["error"]["code"] == "NOT_FOUND"


def test_a_refund_opens_an_approval_request_the_agent_polls_with_get_approval(client, shop, agent_token):
    answer = call_tool(client, agent_token, "check_graphql",
                       {"schema": "shop", "query": REFUND, "variables": {"id": "1"}})["structuredContent"]
    assert answer["decision"] == "pending_approval"
    approval_id = answer["approval"]["id"]

    polled = call_tool(client, agent_token, "get_approval", {"approval_id": approval_id})
    rest = client.get(f"/api/v1/approvals/{approval_id}", **bearer(agent_token)).json()

    assert polled["structuredContent"] == rest
    assert rest["status"] == "pending"
    other = issue_token_for(make_principal("other-bot", "ai", groups=["support"]))
    refused = call_tool(client, other, "get_approval", {"approval_id": approval_id})
    assert refused["isError"] is True and refused["structuredContent"]["error"]["code"] == "NOT_FOUND"


def test_list_operations_answers_the_capabilities(client, shop, agent_token):
    rest = client.get("/api/v1/agents/me/capabilities", **bearer(agent_token)).json()

    result = call_tool(client, agent_token, "list_operations", {})

    assert result["structuredContent"]["schemas"] == rest["schemas"]
    assert result["structuredContent"]["agent"] == rest["agent"]


def test_get_schema_answers_the_own_sdl(client, shop, agent_token):
    rest = client.get("/api/v1/schemas/shop/sdl", **bearer(agent_token)).content.decode()

    result = call_tool(client, agent_token, "get_schema", {"schema": "shop"})

    assert result["structuredContent"] == {"schema": "shop", "sdl": rest}


def test_get_schema_for_given_operations_keeps_only_what_they_reach(client, shop, agent_token):
    result = call_tool(client, agent_token, "get_schema", {"schema": "shop", "operations": ["query.order"]})

    schema = graphql.build_schema(result["structuredContent"]["sdl"])
    assert schema.query_type is not None and set(schema.query_type.fields) == {"order"}
    assert schema.mutation_type is None
    assert schema.get_type("Customer") is None or "ssn" not in schema.get_type("Customer").fields


def test_get_schema_for_an_operation_the_agent_may_not_call_reads_as_unknown(client, shop, agent_token):
    hidden = call_tool(client, agent_token, "get_schema", {"schema": "shop", "operations": ["mutation.deleteOrder"]})
    missing = call_tool(client, agent_token, "get_schema", {"schema": "shop", "operations": ["mutation.nope"]})

    assert hidden["isError"] is missing["isError"] is True
    assert hidden["structuredContent"]["error"]["code"] == missing["structuredContent"]["error"]["code"] == (
        "UNKNOWN_OPERATION")


def test_a_schema_the_agent_may_not_use_is_not_found(client, shop, agent_token):
    result = call_tool(client, agent_token, "get_schema", {"schema": "nope"})

    assert result["isError"] is True
    assert result["structuredContent"]["error"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize("arguments", [
    {},
    {"query": 5},
    {"query": "{ a }", "schema": "../etc"},
    {"query": "{ a }", "unexpected": 1},
    {"query": "{ a }", "operationName": "x" * 5000},
])
def test_invalid_check_arguments_are_a_tool_error_naming_the_problem(client, shop, agent_token, arguments):
    result = call_tool(client, agent_token, "check_graphql", arguments)

    assert result["isError"] is True
    assert result["structuredContent"]["error"]["code"] == "VALIDATION_ERROR"
    assert result["structuredContent"]["error"]["details"]["errors"]


def test_deeply_nested_check_arguments_are_refused_before_the_check(client, shop, agent_token):
    nested: dict = {}
    for _ in range(300):
        nested = {"a": nested}

    result = call_tool(client, agent_token, "check_graphql", {"query": "{ a }", "context": nested})

    assert result["isError"] is True
    assert result["structuredContent"]["error"]["code"] == "MALFORMED_REQUEST"


def test_an_unknown_tool_is_a_json_rpc_invalid_params_error(client, shop, agent_token):
    response = rpc(client, agent_token, "tools/call", {"name": "drop_tables", "arguments": {}})

    assert response.json()["error"]["code"] == mcp_types.INVALID_PARAMS
    assert "result" not in response.json()


@pytest.mark.parametrize("body", ["{not json", "[]", '{"jsonrpc": "2.0"}', json.dumps([{"jsonrpc": "2.0"}] * 3)])
def test_bodies_that_are_not_one_json_rpc_request_get_json_rpc_errors_not_500(client, shop, agent_token, body):
    response = rpc(client, agent_token, "tools/list", body=body)

    assert 400 <= response.status_code < 500
    assert "error" in response.json()


def test_an_unknown_method_is_a_json_rpc_error(client, shop, agent_token):
    response = rpc(client, agent_token, "resources/list")

    assert response.json()["error"]["code"] == mcp_types.METHOD_NOT_FOUND


def test_without_a_token_the_answer_is_401_naming_the_protected_resource_metadata(client, shop):
    response = rpc(client, None, "tools/list")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "AUTHENTICATION_REQUIRED"
    assert response["WWW-Authenticate"] == (
        'Bearer resource_metadata="http://127.0.0.1:8000/.well-known/oauth-protected-resource"')


def test_a_bad_token_gets_401_invalid_token_in_the_one_error_shape(client, shop):
    response = rpc(client, "gqlgov_nope", "tools/list")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "INVALID_TOKEN"
    assert response["WWW-Authenticate"].startswith('Bearer error="invalid_token", resource_metadata="')


def test_a_suspended_agent_gets_403(client, shop, agent, agent_token):
    from agents.services import principal_suspend

    principal_suspend(actor="test", principal=agent)

    response = rpc(client, agent_token, "tools/list")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "AGENT_SUSPENDED"


def test_get_is_405_in_the_one_error_shape(client, agent_token):
    response = client.get("/mcp", **bearer(agent_token))

    assert response.status_code == 405
    assert response.json()["error"]["code"] == "METHOD_NOT_ALLOWED"
    assert response["Allow"] == "POST"


def test_a_body_over_the_cap_gets_413_before_any_work(client, shop, agent_token, settings):
    huge = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "check_graphql", "arguments": {"query": "{ a }" + " " * settings.GQLGOV_MAX_BODY_BYTES}}}

    response = rpc(client, agent_token, "tools/call", body=huge)

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"


def test_a_foreign_origin_is_refused(client, shop, agent_token):
    response = rpc(client, agent_token, "tools/list", headers={"HTTP_ORIGIN": "https://evil.example"})

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "PERMISSION_DENIED"


def test_the_protected_resource_metadata_names_the_idp_as_authorization_server(client, settings):
    settings.AGENT_JWT_ISSUER = "https://idp.example.com/"
    settings.GQLGOV_PUBLIC_URL = "https://gqlgov.example.com"

    for path in ("/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp"):
        metadata = client.get(path).json()

        assert metadata["resource"] == "https://gqlgov.example.com/mcp"
        assert metadata["authorization_servers"] == ["https://idp.example.com/"]
        assert metadata["bearer_methods_supported"] == ["header"]


@pytest.mark.parametrize("body", [
    b'{"jsonrpc": "2.0", "id": 1, "method": "tools/list", "x": "\xff\xfe"}',
    b'{"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": {
        **ENVELOPE, "io.modelcontextprotocol/clientCapabilities": json.loads("[" * 900 + "]" * 900)}}}).encode(),
])
def test_hostile_bodies_get_a_json_rpc_error_never_a_500(client, shop, agent_token, body):
    response = client.post("/mcp", body, content_type="application/json", **bearer(agent_token),
                           HTTP_ACCEPT="application/json, text/event-stream", HTTP_MCP_PROTOCOL_VERSION=VERSION,
                           HTTP_MCP_METHOD="tools/list")

    assert 400 <= response.status_code < 500, response.content[:300]
    assert response.json()["error"]["code"] < 0  # a JSON-RPC error code


def test_the_request_log_line_carries_the_decision(client, shop, agent_token, caplog):
    call_tool(client, agent_token, "check_graphql", {"schema": "shop", "query": "{ order(id: 1) { id } }"})

    assert [record.outcome for record in caplog.records if getattr(record, "path", "") == "/mcp"] == ["allow"]


def test_check_graphql_is_charged_to_the_same_rate_limit_as_post_check(client, shop_schema, agent_token):
    from tests.policies.conftest import activate_policy
    from tests.policies.test_check_ratelimit import POLICY

    activate_policy(POLICY.format(rule_limits="{requests: 2, per: minute}"))
    arguments = {"schema": "shop", "query": "{ orders(first: 1) { totalCount } }"}
    assert rest_check(client, agent_token, arguments)["decision"] == "allow"
    assert call_tool(client, agent_token, "check_graphql", arguments)["structuredContent"]["decision"] == "allow"

    refused = call_tool(client, agent_token, "check_graphql", arguments)

    assert refused["isError"] is False  # a decision, as the 429's body is
    answer = refused["structuredContent"]
    assert answer["decision"] == "deny" and answer["error"]["code"] == "RATE_LIMITED"
    assert answer["reasons"][-1]["retry_after_s"] >= 1


def test_a_client_that_accepts_no_json_gets_406_in_the_one_error_shape(client, shop, agent_token):
    response = rpc(client, agent_token, "tools/list", headers={"HTTP_ACCEPT": "text/html"})

    assert response.status_code == 406
    assert response.json()["error"]["code"] == "MALFORMED_REQUEST"


def test_a_notification_is_acknowledged_with_202(client, shop, agent_token):
    body = {"jsonrpc": "2.0", "method": "notifications/initialized"}

    response = rpc(client, agent_token, "notifications/initialized", body=body)

    assert response.status_code == 202


@pytest.mark.usefixtures("oidc_settings")
def test_check_graphql_on_behalf_of_a_person_decides_the_intersection_like_post_check(
        client, shop_schema, agent_token, oidc_provider):
    from tests.policies.delegation import AGENT_ONLY, BOTH_ALLOW, PERSON_SUB, delegation_policy, make_person

    delegation_policy()
    make_person()
    person_token = oidc_provider.issue_token(sub=PERSON_SUB, extra_claims={"groups": ["finance"]})

    allowed = call_tool(client, agent_token, "check_graphql",
                        {"schema": "shop", "query": BOTH_ALLOW, "on_behalf_of": person_token})["structuredContent"]
    refused = call_tool(client, agent_token, "check_graphql",
                        {"schema": "shop", "query": AGENT_ONLY, "on_behalf_of": person_token})["structuredContent"]

    assert allowed["decision"] == "allow" and allowed["on_behalf_of"] == "alice"
    assert refused["decision"] == "deny"
    assert [(reason["code"], reason.get("side")) for reason in refused["reasons"]] == [("NO_MATCHING_RULE", "delegator")]
    assert person_token not in json.dumps([allowed, refused])
