"""POST /api/v1/check: decisions, reasons, recording and every error status."""

import json
import logging

import pytest

from agents.models import AuditEvent
from policies.engine.hostile import nested_json
from policies.models import Decision
from tests.conftest import bearer, issue_token_for, make_principal
from tests.policies.conftest import SHOP_POLICY, activate_policy

pytestmark = pytest.mark.django_db

CHECK = "/api/v1/check"
ORDERS = "{ orders(first: 5) { edges { node { id customer { name } } } } }"
SECRET_CARD = "4111111111111111"


def check(client, token, REMOTE_ADDR="127.0.0.1", **body):
    return client.post(CHECK, data=json.dumps(body), content_type="application/json", REMOTE_ADDR=REMOTE_ADDR,
                       **bearer(token))


def codes(response) -> list[str]:
    return [reason["code"] for reason in response.json()["reasons"]]


def test_allowed_query_gets_allow_with_operation_and_metrics(client, shop, agent_token):
    response = check(client, agent_token, query=ORDERS)
    assert response.status_code == 200
    body = response.json()
    assert body["decision"] == "allow"
    assert body["policy_version"] == shop.number
    assert body["operation"] == {"name": None, "type": "query", "root_fields": ["orders"]}
    assert body["metrics"]["depth"] == 5
    assert body["metrics"]["cost"] == 1 + 5 * 3
    assert body["reasons"] == []
    assert Decision.objects.get(pk=body["decision_id"]).decision == "allow"


def test_schema_may_be_named_explicitly(client, shop, agent_token):
    assert check(client, agent_token, schema="shop", query=ORDERS).json()["decision"] == "allow"


def test_forbidden_field_is_denied_with_its_path(client, shop, agent_token):
    response = check(client, agent_token, query='{ customer(id: "1") { name ssn } }')
    body = response.json()
    assert body["decision"] == "deny"
    forbidden = [r for r in body["reasons"] if r["code"] == "FORBIDDEN_FIELD"]
    assert forbidden[0]["path"] == ["customer", "ssn"]
    assert forbidden[0]["rule"] == "support-reads-orders"


def test_deny_rule_wins(client, shop, agent_token):
    response = check(client, agent_token, query='mutation { deleteOrder(id: "1") }')
    assert response.json()["decision"] == "deny"
    assert "DENIED_BY_RULE" in codes(response)


def test_refund_needs_approval_and_mutation_checks_are_audited(client, shop, agent_token):
    response = check(client, agent_token, query='mutation Refund { refundOrder(id: "1") { id } }')
    body = response.json()
    assert body["decision"] == "pending_approval"
    assert codes(response) == ["APPROVAL_REQUIRED"]
    event = AuditEvent.objects.get(action="agent.mutation_checked")
    assert event.actor == "agent:support-bot"
    assert event.target_id == body["decision_id"]


def test_operation_nothing_governs_is_denied(client, shop, db):
    outsider = make_principal("outsider-bot", "ai")
    response = check(client, issue_token_for(outsider), query=ORDERS)
    assert response.json()["decision"] == "deny"
    assert codes(response) == ["NO_MATCHING_RULE"]


def test_unknown_schema_is_a_deny_decision(client, shop, agent_token):
    response = check(client, agent_token, schema="nope", query=ORDERS)
    assert response.status_code == 200
    assert codes(response) == ["UNKNOWN_SCHEMA"]


def test_schema_without_approved_policy_is_a_deny_decision(client, shop_schema, agent_token):
    response = check(client, agent_token, query=ORDERS)
    assert response.status_code == 200
    assert codes(response) == ["NO_ACTIVE_POLICY"]


def test_unparseable_document_is_denied_with_parse_failure(client, shop, agent_token):
    response = check(client, agent_token, query="{ orders(")
    assert response.status_code == 200
    assert codes(response) == ["GRAPHQL_PARSE_FAILED"]


def test_invalid_document_is_denied_without_leaking_the_schema(client, shop, agent_token):
    response = check(client, agent_token, query="{ ordrs { id } }")
    assert codes(response) == ["GRAPHQL_VALIDATION_FAILED"]
    assert "Did you mean" not in response.content.decode()


def test_oversized_document_is_denied_before_parsing(client, shop, agent_token, settings):
    settings.GQLGOV_MAX_DOCUMENT_BYTES = 100
    response = check(client, agent_token, query="{ orders { totalCount } }" + " " * 200)
    assert codes(response) == ["DOCUMENT_TOO_LARGE"]


def test_sensitive_values_never_reach_the_database_or_logs(client, shop, agent_token, caplog):
    caplog.set_level(logging.DEBUG)
    variables = {"card": SECRET_CARD}
    query = 'mutation Pay($card: String!) { updatePayment(customerId: "1", card: $card) { id } }'
    check(client, agent_token, query=query, variables=variables)
    check(client, agent_token, query=f'mutation {{ login(username: "bob", password: "{SECRET_CARD}") }}')
    stored = json.dumps(list(Decision.objects.values()), default=str) + json.dumps(
        list(AuditEvent.objects.values("details")), default=str
    )
    assert SECRET_CARD not in stored
    assert SECRET_CARD not in caplog.text
    record = Decision.objects.filter(operation_name="Pay").get()
    assert record.variables_redacted == {"card": "[REDACTED]"}


def test_agent_reads_its_own_decision(client, shop, agent_token):
    decision_id = check(client, agent_token, query=ORDERS).json()["decision_id"]
    response = client.get(f"/api/v1/decisions/{decision_id}", **bearer(agent_token))
    assert response.status_code == 200
    assert response.json()["decision"] == "allow"


def test_another_agents_decision_is_not_found(client, shop, agent_token):
    decision_id = check(client, agent_token, query=ORDERS).json()["decision_id"]
    other = issue_token_for(make_principal("nosy-bot", "ai"))
    assert client.get(f"/api/v1/decisions/{decision_id}", **bearer(other)).status_code == 404
    assert client.get("/api/v1/decisions/not-a-uuid", **bearer(other)).status_code == 404


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"{not json", 400, "MALFORMED_REQUEST"),
        (b"\xff\xfe\x00garbage", 400, "MALFORMED_REQUEST"),
        (b'[{"query": "{ orders { totalCount } }"}]', 400, "MALFORMED_REQUEST"),
        (b"[" * 100000 + b"]" * 100000, 400, "MALFORMED_REQUEST"),
        (b'{"query": "{ orders { totalCount } }", "variables": {"x": NaN}}', 400, "MALFORMED_REQUEST"),
        (b'{"variables": {}}', 422, "VALIDATION_ERROR"),
        (b'{"query": 42}', 422, "VALIDATION_ERROR"),
    ],
    ids=["bad-json", "not-utf8", "batched-array", "deep-json", "nan", "missing-query", "wrong-type"],
)
def test_malformed_bodies_get_documented_errors(client, shop, agent_token, body, status, code):
    response = client.post(CHECK, data=body, content_type="application/json", **bearer(agent_token))
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert not Decision.objects.exists()


def test_bodies_nest_at_most_128_levels(client, shop, agent_token):
    at_the_limit = check(client, agent_token, query=ORDERS, context=nested_json(127))
    beyond = check(client, agent_token, query=ORDERS, context=nested_json(128))

    assert at_the_limit.status_code == 200
    assert beyond.status_code == 400
    assert beyond.json()["error"] == {
        "code": "MALFORMED_REQUEST", "message": "Request body is nested deeper than 128 levels.", "details": {},
    }
    assert Decision.objects.count() == 1


def test_validation_errors_name_the_offending_field(client, shop, agent_token):
    body = {"query": 42, "schema": "no spaces allowed", "operationName": "x" * 1001}
    response = client.post(CHECK, data=json.dumps(body), content_type="application/json", **bearer(agent_token))
    assert response.status_code == 422
    errors = response.json()["error"]["details"]["errors"]
    assert sorted(tuple(error["loc"]) for error in errors) == [
        ("body", "payload", "operationName"), ("body", "payload", "query"), ("body", "payload", "schema"),
    ]
    assert {error["type"] for error in errors} == {"string_type", "string_pattern_mismatch", "string_too_long"}


def test_oversized_body_gets_413(client, shop, agent_token):
    body = json.dumps({"query": "{ orders { totalCount } }", "variables": {"x": "y" * 300_000}})
    response = client.post(CHECK, data=body, content_type="application/json", **bearer(agent_token))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"


def test_check_requires_authentication(client, shop):
    response = client.post(CHECK, data="{}", content_type="application/json")
    assert response.status_code == 401


def test_nul_characters_in_variables_are_stored_without_error(client, shop, agent_token):
    query = "query x($a: ID!) { order(id: $a) { id } }"
    response = check(client, agent_token, query=query, variables={"a\u0000": "b", "a": "b\u0000"}, operationName="x")
    assert response.status_code == 200
    record = Decision.objects.get()
    assert record.variables_redacted == {"a": "b\ufffd"}
    assert record.undeclared_variables == 1


def test_schema_names_that_cannot_exist_are_refused(client, shop, agent_token):
    response = check(client, agent_token, schema="sh\u0000op", query=ORDERS)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"


def test_nul_in_a_url_is_a_malformed_request(client, shop, agent_token):
    response = client.get("/api/v1/decisions/a%00b", **bearer(agent_token))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "MALFORMED_REQUEST"


def test_a_repeated_check_follows_a_newly_approved_policy(client, shop, agent_token,
                                                          django_capture_on_commit_callbacks):
    assert check(client, agent_token, query=ORDERS).json()["decision"] == "allow"
    with django_capture_on_commit_callbacks(execute=True):
        activate_policy(SHOP_POLICY.replace('"query.orders*", ', ""))

    assert codes(check(client, agent_token, query=ORDERS)) == ["NO_MATCHING_RULE"]


def test_a_repeated_check_is_decided_afresh_where_a_rule_condition_applies(client, shop_schema, agent_token):
    office_only = "    when: {source_ips: [10.0.0.0/8]}\n    limits: {max_depth: 6"
    activate_policy(SHOP_POLICY.replace("    limits: {max_depth: 6", office_only, 1))

    def decision_from(address: str) -> str:
        return check(client, agent_token, query=ORDERS, REMOTE_ADDR=address).json()["decision"]

    assert [decision_from(address) for address in ("10.1.2.3", "192.0.2.1", "10.1.2.3")] == ["allow", "deny", "allow"]


@pytest.mark.parametrize("key", ["onBehalfOf", "operation_name", "Variables"])
def test_a_key_the_check_does_not_read_is_refused_naming_it(client, shop, agent_token, key):
    response = check(client, agent_token, query=ORDERS, **{key: "x"})

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert key in json.dumps(error)
    assert Decision.objects.count() == 0


def test_graphql_over_http_extensions_are_accepted(client, shop, agent_token):
    response = check(client, agent_token, query=ORDERS, extensions={"trace": True})

    assert response.status_code == 200 and response.json()["decision"] == "allow"
