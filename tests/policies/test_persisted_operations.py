"""Persisted operations (safelisting): staff promote a document for an agent or a group; a rule
with `persisted_only` then admits only those, sent by hash (Apollo's APQ shape) or as text."""

import json

import pytest

from agents.models import AuditEvent
from gqlgov_verify.binding import document_sha256
from policies.models import Decision
from tests.conftest import bearer, issue_token_for, make_principal
from tests.policies.conftest import SHOP_POLICY, activate_policy

pytestmark = pytest.mark.django_db

ORDERS = "query Recent { orders(first: 5) { edges { node { id } } } }"
OTHER = "{ orders(first: 2) { totalCount } }"
PERSISTED_POLICY = SHOP_POLICY.replace(
    "  - id: support-reads-orders\n    effect: allow\n",
    "  - id: support-reads-orders\n    effect: allow\n    persisted_only: true\n",
)


@pytest.fixture
def staff_token(db):
    return issue_token_for(make_principal("ci-bot", "service", groups=["gqlgov-admins"]))


@pytest.fixture
def safelisted(shop_schema):
    return activate_policy(PERSISTED_POLICY)


def persist(client, token, **body):
    return client.post("/api/v1/persisted-operations", data=json.dumps({"schema": "shop", **body}),
                       content_type="application/json", **bearer(token))


def check(client, token, **body):
    return client.post("/api/v1/check", data=json.dumps({"schema": "shop", **body}),
                       content_type="application/json", **bearer(token))


def apq(sha256: str) -> dict:
    return {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha256}}}


def test_a_persisted_only_rule_refuses_a_document_not_persisted_for_the_agent(client, safelisted, agent_token):
    body = check(client, agent_token, query=OTHER).json()
    assert body["decision"] == "deny"
    assert [r["code"] for r in body["reasons"]] == ["NOT_PERSISTED"]
    assert body["reasons"][0]["rule"] == "support-reads-orders"


def test_staff_persist_a_document_for_an_agent_and_the_agent_sends_it_by_hash(
    client, safelisted, agent, agent_token, staff_token
):
    created = persist(client, staff_token, query=ORDERS, agent=agent.name)
    assert created.status_code == 201
    sha256 = created.json()["sha256"]
    assert sha256 == document_sha256(ORDERS) and created.json()["operation_name"] == "Recent"
    assert AuditEvent.objects.get(action="persisted_operation.created").details["sha256"] == sha256

    assert check(client, agent_token, **apq(sha256)).json()["decision"] == "allow"
    assert check(client, agent_token, query=ORDERS).json()["decision"] == "allow"
    assert persist(client, staff_token, query=ORDERS, agent=agent.name).status_code == 200  # already persisted


def test_a_hash_no_persisted_operation_of_the_agent_has_is_refused(client, safelisted, agent_token, staff_token):
    persist(client, staff_token, query=ORDERS, group="someone-else")
    body = check(client, agent_token, **apq(document_sha256(ORDERS))).json()
    assert body["decision"] == "deny" and body["reasons"][0]["code"] == "NOT_PERSISTED"


def test_a_document_persisted_for_a_group_serves_its_members(client, safelisted, agent_token, staff_token):
    persist(client, staff_token, query=ORDERS, group="support")
    assert check(client, agent_token, **apq(document_sha256(ORDERS))).json()["decision"] == "allow"


def test_a_recorded_check_is_promoted_from_its_decision(client, safelisted, agent, agent_token, staff_token,
                                                         django_capture_on_commit_callbacks):
    decision_id = check(client, agent_token, query=ORDERS).json()["decision_id"]
    assert Decision.objects.filter(pk=decision_id).exists()
    with django_capture_on_commit_callbacks(execute=True):  # the promotion is seen at once in this process
        promoted = persist(client, staff_token, decision_id=decision_id, agent=agent.name)
    assert promoted.status_code == 201
    assert check(client, agent_token, query=ORDERS).json()["decision"] == "allow"


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"query": "{ orders { nope } }", "agent": "support-bot"}, 422, "PERSISTED_DOCUMENT_INVALID"),
    ({"query": ORDERS}, 422, "VALIDATION_ERROR"),
    ({"query": ORDERS, "agent": "nobody"}, 404, "NOT_FOUND"),
    ({"decision_id": "not-a-uuid", "agent": "support-bot"}, 404, "NOT_FOUND"),
])
def test_bad_promotions_get_a_clear_error_and_store_nothing(client, safelisted, agent, staff_token, body, status, code):
    response = persist(client, staff_token, **body)
    assert response.status_code == status and response.json()["error"]["code"] == code
    assert not AuditEvent.objects.filter(action="persisted_operation.created").exists()


def test_an_agent_may_not_persist_documents(client, safelisted, agent_token):
    assert persist(client, agent_token, query=ORDERS, agent="support-bot").status_code == 403


@pytest.mark.parametrize("extensions", [
    {"persistedQuery": {"version": 2, "sha256Hash": "a" * 64}},
    {"persistedQuery": {"version": 1, "sha256Hash": "xyz"}},
    {"persistedQuery": "nope"},
])
def test_a_malformed_persisted_query_is_a_422(client, safelisted, agent_token, extensions):
    response = check(client, agent_token, extensions=extensions)
    assert response.status_code == 422 and "persistedQuery" in json.dumps(response.json()["error"]["details"])


def test_a_hash_that_is_not_the_query_s_is_a_422(client, safelisted, agent_token):
    response = check(client, agent_token, query=ORDERS, **apq("0" * 64))
    assert response.status_code == 422
    assert "is not the SHA-256 of query" in json.dumps(response.json()["error"]["details"])


def test_persisted_only_on_a_deny_rule_fails_the_load():
    from policies.engine import PolicyValidationError, compile_policy

    with pytest.raises(PolicyValidationError, match="persisted_only"):
        compile_policy({"schema": "shop", "rules": [
            {"id": "x", "effect": "deny", "operations": ["query.*"], "persisted_only": True}]})


def test_a_schema_version_lists_the_persisted_operations_it_breaks(client, safelisted, agent, staff_token):
    from policies.services import schema_register
    from tests.policies.conftest import SHOP_SDL

    persist(client, staff_token, query='{ customer(id: "1") { ssn } }', agent=agent.name)
    persist(client, staff_token, query=ORDERS, agent=agent.name)
    schema_register(actor="test", name="shop", sdl=SHOP_SDL.replace("  ssn: String", "  taxId: String"))
    body = client.get("/api/v1/schemas/shop", **bearer(staff_token)).json()
    assert body["awaiting_review"] is True
    assert body["persisted_operations_broken"] == [document_sha256('{ customer(id: "1") { ssn } }')]
