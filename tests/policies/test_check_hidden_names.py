"""POST /api/v1/check tells an agent nothing outside its own schema: a hidden field, type or root
field reads exactly as one that does not exist; the decision record keeps the true cause."""

import json

import pytest

from policies.models import Decision
from tests.conftest import bearer, issue_token_for, make_principal

pytestmark = pytest.mark.django_db

CHECK = "/api/v1/check"


def check(client, token, **body):
    return client.post(CHECK, data=json.dumps(body), content_type="application/json", **bearer(token)).json()


def without_ids(body: dict) -> dict:
    return {key: value for key, value in body.items() if key not in ("decision_id", "rate_limit")}


@pytest.mark.parametrize(("hidden", "name"), [
    ('{ customer(id: "1") { name ssn } }', "ssn"),  # fields.deny
    ('mutation { deleteOrder(id: "1") }', "deleteOrder"),  # an operation a deny rule covers
    ('{ search(text: "x") { __typename } }', "search"),  # a root field no rule admits
    ('mutation { verifyIdentity(ssn: "1") }', "verifyIdentity"),  # ... with a required argument left out
], ids=["denied-field", "denied-operation", "unadmitted-root", "unadmitted-mutation"])
def test_a_hidden_name_gets_the_answer_a_name_that_does_not_exist_gets(client, shop, agent_token, hidden, name):
    stand_in = "z" * len(name)  # the same length: messages name columns

    told = check(client, agent_token, query=hidden)
    missing = check(client, agent_token, query=hidden.replace(name, stand_in))

    assert told["decision"] == "deny"
    assert without_ids(told) == json.loads(json.dumps(without_ids(missing)).replace(stand_in, name))
    assert [reason["code"] for reason in told["reasons"]] == ["GRAPHQL_VALIDATION_FAILED"]


def test_the_record_and_the_metrics_keep_the_true_cause_while_the_agent_reads_its_own_decision_without_it(
        client, shop, agent_token):
    body = check(client, agent_token, query='{ customer(id: "1") { name ssn } }')

    record = Decision.objects.get(pk=body["decision_id"])
    assert [reason["code"] for reason in record.reasons] == ["FORBIDDEN_FIELD"]
    assert record.reasons[0]["rule"] == "support-reads-orders"
    read = client.get(f"/api/v1/decisions/{body['decision_id']}", **bearer(agent_token)).json()
    assert read["reasons"] == body["reasons"]
    assert read["operation"] == body["operation"]
    assert "support-reads-orders" not in json.dumps(read)


def test_a_near_miss_of_a_hidden_field_suggests_nothing(client, shop, agent_token):
    body = check(client, agent_token, query='{ customer(id: "1") { ssm cardNumbe } }')

    text = json.dumps(body)
    assert body["decision"] == "deny"
    assert "Did you mean" not in text
    assert "ssn" not in text and "cardNumber" not in text


def test_an_agent_that_may_call_nothing_is_told_its_root_field_does_not_exist(client, shop):
    outsider = issue_token_for(make_principal("outsider-bot", "ai"))

    told = check(client, outsider, query='{ orders(first: 1) { totalCount } }')

    assert [(r["code"], r["message"]) for r in told["reasons"]] == [
        ("GRAPHQL_VALIDATION_FAILED", "Cannot query field 'orders' on type 'Query'. (line 1, column 3)")
    ]
    assert "hints" not in told  # no list of the operations it could call: there are none to show


def test_a_denial_about_what_the_agent_may_see_keeps_its_reasons_and_suggested_query(client, shop, agent_token):
    deep = "{ orders(first: 1) { edges { node { id customer { orders(first: 1) { edges { node { id } } } } } } } }"

    told = check(client, agent_token, query=deep)

    assert [reason["code"] for reason in told["reasons"]] == ["DEPTH_LIMIT"]
    assert told["reasons"][0]["rule"] == "support-reads-orders"
    assert any(hint["kind"] == "suggested_query" for hint in told["hints"])


@pytest.mark.parametrize("query", [
    '{ customer(id: "1") { name ssn } }',  # told as its own schema would
    '{ customer(id: "1") { name } customer2: customer(id: "2") { name } c3: customer(id: "3") { name }'
    ' c4: customer(id: "4") { name } c5: customer(id: "5") { name } c6: customer(id: "6") { name } }',  # as it is
], ids=["hidden", "visible"])
def test_a_repeated_denial_is_told_alike_from_the_decision_cache(client, shop, agent_token, query):
    first, again = (without_ids(check(client, agent_token, query=query)) for _ in range(2))

    assert first["decision"] == "deny"
    assert again == first
