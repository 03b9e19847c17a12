"""What a check stores: nothing derived from a redacted value, only declared variables, failed
mutation attempts audited, and no 500 from negative cost weights."""

import hashlib
import json
from pathlib import Path

import pytest

from agents.models import AuditEvent
from policies.models import Decision
from policies.services import schema_register
from tests.conftest import bearer
from tests.policies.conftest import activate_policy

pytestmark = pytest.mark.django_db

PIN = "482913"


def check(client, token, **body):
    return client.post("/api/v1/check", data=json.dumps(body), content_type="application/json", **bearer(token))


def login(pin: str) -> str:
    return f'mutation {{ login(username: "bob", password: "{pin}") }}'


def test_document_hash_is_of_the_redacted_document_so_an_inline_secret_cannot_be_brute_forced(
    client, shop, agent_token
):
    check(client, agent_token, query=login(PIN))
    check(client, agent_token, query=login("000000"))

    first, second = Decision.objects.order_by("created_at")
    raw_hash = hashlib.sha256(login(PIN).encode()).hexdigest()
    assert first.document_hash != raw_hash
    assert first.document_hash == hashlib.sha256(first.document_redacted.encode()).hexdigest()
    assert first.document_hash == second.document_hash  # the secret takes no part in it
    stored = json.dumps(list(Decision.objects.values()), default=str)
    assert PIN not in stored


def test_validation_messages_stored_with_a_decision_quote_no_sensitive_literal(client, shop, agent_token):
    check(client, agent_token, query=f'mutation {{ login(username: "bob", password: {PIN}) }}')

    record = Decision.objects.get()
    assert record.reasons[0]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert PIN not in json.dumps(record.reasons)
    assert PIN not in record.document_redacted


def test_only_declared_variables_are_stored_and_the_rest_are_counted(client, shop, agent_token):
    query = "query Q($n: Int) { orders(first: $n) { totalCount } }"
    check(client, agent_token, query=query, variables={"n": 3, "apiKey": "sk-live-1", "password2": PIN})

    record = Decision.objects.get()
    assert record.variables_redacted == {"n": 3}
    assert record.undeclared_variables == 2
    assert "sk-live-1" not in json.dumps(list(Decision.objects.values()), default=str)


def test_values_of_arguments_the_schema_does_not_define_are_redacted(client, shop, agent_token):
    check(client, agent_token, query=f'{{ order(id: "1", pasword: "{PIN}") {{ id }} }}')

    record = Decision.objects.get()
    assert PIN not in record.document_redacted
    assert '"[REDACTED]"' in record.document_redacted


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ('mutation Wipe { deleteOrder(id: "1") { nope } }', "Wipe"),  # fails validation
        ('mutation { deleteOrder(id: "1"', None),  # fails to parse
    ],
)
def test_mutation_attempts_that_fail_to_parse_or_validate_are_audited(client, shop, agent_token, query, name):
    body = check(client, agent_token, query=query).json()

    assert body["decision"] == "deny"
    event = AuditEvent.objects.get(action="agent.mutation_checked")
    assert event.target_id == body["decision_id"]
    assert event.details["decision"] == "deny"
    assert Decision.objects.get().operation_type == "mutation"
    assert Decision.objects.get().operation_name == (name or "")


REBATE_SDL = (Path(__file__).resolve().parents[1] / "data" / "rebate.graphql").read_text()

REBATE_POLICY = """
schema: rebates
defaults: {limits: {max_cost: 100}}
rules:
  - {id: reads, effect: allow, subjects: {kinds: [ai]}, operations: ["query.*"], rate_limits: [{cost: 50, per: hour}]}
"""


def test_a_negative_cost_weight_neither_bypasses_the_cost_limit_nor_breaks_the_cost_budget(client, agent_token):
    schema_register(actor="test", name="rebates", sdl=REBATE_SDL)
    activate_policy(REBATE_POLICY)

    hidden = check(client, agent_token, schema="rebates", query="{ items(first: 200) { id } rebate(first: 1000) }")
    rebate = check(client, agent_token, schema="rebates", query="{ rebate(first: 5) }")

    assert hidden.status_code == 200 and hidden.json()["decision"] == "deny"
    assert [r["code"] for r in hidden.json()["reasons"]] == ["COST_LIMIT"]
    assert rebate.status_code == 200
    assert rebate.json()["decision"] == "allow"
    assert rebate.json()["metrics"]["cost"] == 0


def test_a_document_differing_only_in_literals_is_answered_and_recorded_as_a_full_analysis_would(
    client, shop, agent_token
):
    from policies.checks.caches import clear_caches, shape_cache

    seed = 'mutation { login(username: "a", password: "1") }'
    document = 'mutation { login(username: "someone-else", password: "s3cret-pin") }'
    check(client, agent_token, query=seed)
    hits = shape_cache().hits
    from_shape = check(client, agent_token, query=document).json()
    assert shape_cache().hits == hits + 1
    clear_caches()
    analysed = check(client, agent_token, query=document).json()

    # Each check has its own id, token (it names the id) and rate-limit state; all else is the same.
    unique = {"decision_id": None, "decision_token": None, "rate_limit": None}
    assert {**from_shape, **unique} == {**analysed, **unique}
    assert from_shape["decision"] == "allow"
    _seed, served, cold = Decision.objects.order_by("created_at")
    assert served.document_redacted == cold.document_redacted
    assert "s3cret-pin" not in served.document_redacted
    assert served.document_hash == cold.document_hash
