"""Documents that cannot be decided on their merits: their messages quote no literal, variables
are coerced as execution would, every measurable limit is still reported, and a failed
mutation keeps its operation type (so it is audited)."""

from __future__ import annotations

import pytest

from policies.engine import Limits
from policies.engine.reasons import (
    DOCUMENT_TOO_LARGE,
    GRAPHQL_PARSE_FAILED,
    GRAPHQL_VALIDATION_FAILED,
    TOKEN_LIMIT,
)

from .factories import analysis_of, check, codes, policy_with_rules

SECRET = "12345678"


@pytest.mark.parametrize(
    "query",
    [
        f'mutation {{ login(input: {{email: "e", password: {SECRET}}}) {{ token }} }}',
        f'{{ order(id: 1) @include(if: "{SECRET}") {{ id }} }}',
        f"mutation {{ updatePayment(customerId: 1, card: {{number: {SECRET}}}) {{ id }} }}",
        f'{{ orders(first: "{SECRET}") {{ totalCount }} }}',
        f"{{ orders(status: S{SECRET}) {{ totalCount }} }}",
        f'{{ orders(first: 1 "{SECRET}") {{ totalCount }} }}',  # a syntax error quotes the token
        f"{{ order(id: 1) {{ id }} }} {SECRET}",
    ],
)
def test_failure_messages_never_quote_a_literal_of_the_document(query: str) -> None:
    analysis = analysis_of(query)

    assert not analysis.ok
    assert {reason.code for reason in analysis.failure} <= {GRAPHQL_VALIDATION_FAILED, GRAPHQL_PARSE_FAILED}
    for reason in analysis.failure:
        assert SECRET not in reason.message
        assert "line 1, column" in reason.message


def test_a_string_for_an_int_slicing_variable_is_refused_naming_the_variable() -> None:
    analysis = analysis_of("query Q($n: Int) { orders(first: $n) { totalCount } }", {"n": "100000"})

    assert [reason.code for reason in analysis.failure] == [GRAPHQL_VALIDATION_FAILED]
    assert "Variable '$n' got an invalid value; expected type 'Int'" in analysis.failure[0].message
    assert "100000" not in analysis.failure[0].message


def test_an_invalid_enum_value_in_variables_is_refused() -> None:
    analysis = analysis_of("query Q($s: OrderStatus) { orders(status: $s) { totalCount } }", {"s": "LOST"})

    assert [reason.message for reason in analysis.failure] == [
        "Variable '$s' got an invalid value; expected type 'OrderStatus'."
    ]


def test_an_invalid_input_field_in_variables_is_refused_with_its_path() -> None:
    analysis = analysis_of(
        "mutation M($c: CardInput!) { updatePayment(customerId: 1, card: $c) { id } }",
        {"c": {"number": "4111", "expiry": 12}},
    )

    assert [reason.message for reason in analysis.failure] == [
        "Variable '$c' got an invalid value at c.expiry; expected type 'CardInput!'."
    ]


def test_a_missing_required_variable_is_refused() -> None:
    analysis = analysis_of("query Q($id: ID!) { order(id: $id) { id } }")

    assert [reason.message for reason in analysis.failure] == ["Variable '$id' of required type 'ID!' was not provided."]


def test_documents_are_measured_with_the_coerced_values() -> None:
    # A single value for a list variable is a list of one; an ID given as a number is the string.
    analysis = analysis_of("query Q($ids: [ID!]!) { customersByIds(ids: $ids) { id } }", {"ids": 7})

    assert analysis.ok, analysis.failure
    assert analysis.metrics is not None and analysis.metrics.cost == 1
    assert analysis.root_fields[0].arguments == {"ids": ["7"]}


def test_a_validation_failure_still_reports_the_limits_the_document_exceeds() -> None:
    # 220 repeated selections: refused before validation, and over the policy's token limit too.
    query = "{ " + "order(id: 1) { id } " * 220 + "}"

    decision = check(query, policy=policy_with_rules(defaults={"limits": {"max_tokens": 100}}), caps=Limits())

    assert codes(decision) == [GRAPHQL_VALIDATION_FAILED, TOKEN_LIMIT]


def test_an_invalid_document_over_a_default_limit_reports_both() -> None:
    query = "{ " + " ".join(f"a{i}: order(id: 1) {{ nope }}" for i in range(20)) + " }"

    decision = check(query, policy=policy_with_rules(defaults={"limits": {"max_aliases": 5}}), caps=Limits())

    assert codes(decision)[0] == GRAPHQL_VALIDATION_FAILED
    assert codes(decision)[-1] == "ALIAS_LIMIT"


@pytest.mark.parametrize(
    "query",
    [
        "mutation { login(input: {}) { nope } }",  # invalid
        "mutation { deleteOrder(id: 1",  # unparseable
        "query Q { __typename } mutation { refundOrder(id: ) }",  # unparseable, mutation second
    ],
)
def test_a_failed_mutation_keeps_its_operation_type(query: str) -> None:
    decision = check(query)

    assert decision.decision == "deny"
    assert decision.operation is not None and decision.operation["type"] == "mutation"


def test_an_oversized_mutation_keeps_its_operation_type() -> None:
    from policies.engine import AnalysisLimits

    decision = check("mutation { deleteOrder(id: 1) }" + " " * 100, limits=AnalysisLimits(max_document_bytes=50))

    assert codes(decision) == [DOCUMENT_TOO_LARGE]
    assert decision.operation is not None and decision.operation["type"] == "mutation"
