"""Hostile input: every class of the corpus is decided without an exception; any document and
variables give a deterministic decision. How fast is the benchmark's to say (`hostile.max_ms`,
`manage.py bench`), not a timed assertion here."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policies.engine import DEFAULT_CAPS, AnalysisLimits, analyze, decide, redact
from policies.engine.hostile import hostile_corpus

from .factories import example_policy, office_request, shop, support_bot

CORPUS = hostile_corpus()


def full_check(query: str, variables: Any, operation_name: str | None = None) -> dict[str, Any]:
    policy = example_policy()
    analysis = analyze(
        shop(), query, operation_name=operation_name, variables=variables, limits=AnalysisLimits()
    )
    decision = decide(policy, analysis, subject=support_bot(), request=office_request(), caps=DEFAULT_CAPS)
    redact(shop(), analysis, variables, policy.sensitive_globs)
    return decision.as_dict()


def suggested_queries(decision: dict[str, Any]) -> list[dict[str, Any]]:
    return [hint for hint in decision["hints"] if hint["kind"] == "suggested_query"]


@pytest.mark.parametrize(("name", "query", "variables"), CORPUS, ids=[case[0] for case in CORPUS])
def test_hostile_input_is_decided_without_an_exception(name: str, query: str, variables: Any) -> None:
    decision = full_check(query, variables)

    assert decision["decision"] in ("allow", "deny")


def test_documents_with_more_operations_than_accepted_are_refused_before_validation() -> None:
    query = " ".join(f"query Q{i} {{ order(id: {i}) {{ id }} }}" for i in range(600))

    decision = full_check(query, None, operation_name="Q5")

    assert [r["message"] for r in decision["reasons"]] == [
        "The document defines 600 operations; at most 50 are accepted."
    ]


def test_a_few_named_operations_are_fine_when_one_is_selected() -> None:
    query = " ".join(f"query Q{i} {{ order(id: {i}) {{ id }} }}" for i in range(50))

    decision = full_check(query, None, operation_name="Q5")

    assert (decision["decision"], decision["operation"]["name"]) == ("allow", "Q5")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
graphql_fragments = st.sampled_from(
    [
        "{",
        "}",
        "(",
        ")",
        ":",
        "$v",
        "...",
        "on",
        "query",
        "mutation",
        "fragment F",
        "orders",
        "order(id: 1)",
        "customer",
        "ssn",
        "edges",
        "node",
        "first: 5",
        "@skip(if: true)",
        "__schema",
        "__typename",
        "Customer",
        "a:",
        " ",
    ]
)
documents = st.one_of(st.text(max_size=200), st.lists(graphql_fragments, max_size=40).map(" ".join))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    query=documents,
    variables=st.none() | st.dictionaries(st.sampled_from(["v", "n", "in"]), json_values, max_size=3),
)
def test_any_document_and_variables_give_a_deterministic_decision_and_passing_suggestions(
    query: str, variables: dict[str, Any] | None
) -> None:
    decision = full_check(query, variables)

    assert full_check(query, variables) == decision
    for hint in suggested_queries(decision):
        assert full_check(hint["query"], hint["variables"])["decision"] == "allow"


def _selection(fields: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.lists(fields, min_size=1, max_size=4).map(lambda items: "{ " + " ".join(items) + " }")


customer_fields: st.SearchStrategy[str] = st.deferred(
    lambda: (
        st.sampled_from(["id", "name", "ssn", "cardNumber", "email", "__typename"])
        | st.builds(
            "orders(first: {}) {{ edges {{ node {} }} }}".format, st.integers(0, 60), _selection(order_fields)
        )
    )
)
order_fields: st.SearchStrategy[str] = st.deferred(
    lambda: (
        st.sampled_from(["id", "total", "status", "lines { sku }"])
        | _selection(customer_fields).map("customer {}".format)
    )
)
root_fields = st.one_of(
    _selection(customer_fields).map("customer(id: 1) {}".format),
    _selection(order_fields).map("order(id: 2) {}".format),
    _selection(customer_fields).map("node(id: 3) {{ ... on Customer {} }}".format),
    st.just("s: __schema { queryType { name } }"),
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(roots=st.lists(root_fields, min_size=1, max_size=3))
def test_suggested_queries_for_valid_shop_documents_always_pass(roots: list[str]) -> None:
    query = "{ " + " ".join(f"r{i}: {root}" for i, root in enumerate(roots)) + " }"

    decision = full_check(query, None)

    for hint in suggested_queries(decision):
        assert full_check(hint["query"], hint["variables"])["decision"] == "allow"
