"""Redaction: no raw sensitive value survives in the stored variables or document."""

from __future__ import annotations

import json
from typing import Any

import pytest

from policies.engine import REDACTED, redact

from .factories import analysis_of, example_policy, shop

SECRET = "hunter2-4111-1111"
GLOBS = example_policy().sensitive_globs  # "*.password", "*.ssn", "Mutation.updatePayment.card"


def redacted(query: str, variables: dict[str, Any] | None = None) -> tuple[dict[str, Any] | None, str]:
    return redact(shop(), analysis_of(query, variables), variables, GLOBS)


def assert_no_secret(*outputs: Any) -> None:
    assert SECRET not in json.dumps(outputs)


def test_variables_bound_to_a_glob_matched_argument_are_redacted() -> None:
    variables, query = redacted(
        "mutation Pay($c: CardInput!, $id: ID!) { updatePayment(customerId: $id, card: $c) { id } }",
        {"c": {"number": SECRET, "expiry": "12/30"}, "id": "7"},
    )

    assert variables == {"c": REDACTED, "id": "7"}
    assert_no_secret(variables, query)


def test_sensitive_fields_nested_inside_input_object_variables_are_redacted() -> None:
    variables, _ = redacted(
        "mutation Login($in: LoginInput!) { login(input: $in) { token } }",
        {"in": {"email": "a@example.com", "password": SECRET}},
    )

    assert variables == {"in": {"email": "a@example.com", "password": REDACTED}}


def test_inline_literals_of_sensitive_arguments_are_redacted_in_the_document() -> None:
    _, query = redacted(
        f'mutation {{ login(input: {{email: "a@example.com", password: "{SECRET}"}}) {{ token }} }}'
    )

    assert (
        query
        == f'mutation {{ login(input: {{email: "a@example.com", password: "{REDACTED}"}}) {{ token }} }}'
    )


def test_arguments_marked_sensitive_in_the_sdl_are_redacted_without_a_glob() -> None:
    query = f"""mutation V($s: String!) {{
      verifyIdentity(customerId: 1, ssn: $s)
      a: updatePayment(customerId: 1, card: {{number: "{SECRET}"}}) {{ id }}
    }}"""

    variables, redacted_query = redact(shop(), analysis_of(query, {"s": SECRET}), {"s": SECRET}, [])

    assert variables == {"s": REDACTED}
    assert_no_secret(variables, redacted_query)


def test_variable_defaults_of_sensitive_variables_are_redacted() -> None:
    _, query = redacted(f'mutation V($s: String! = "{SECRET}") {{ verifyIdentity(customerId: 1, ssn: $s) }}')

    assert_no_secret(query)


def test_variables_nested_in_a_sensitive_literal_are_redacted() -> None:
    variables, _ = redacted(
        "mutation Pay($n: String!) { updatePayment(customerId: 1, card: {number: $n}) { id } }", {"n": SECRET}
    )

    assert variables == {"n": REDACTED}


@pytest.mark.parametrize(
    "query",
    [
        f'mutation {{ login(input: {{password: "{SECRET}"',  # unparseable
        f'mutation {{ logn(input: {{password: "{SECRET}"}}) {{ token }} }}',  # invalid: unknown field
    ],
)
def test_documents_that_fail_analysis_keep_no_secret(query: str) -> None:
    variables, redacted_query = redacted(query, {"anything": SECRET})

    assert_no_secret(variables, redacted_query)


def test_a_plain_document_string_can_be_redacted_without_an_analysis() -> None:
    variables, query = redact(
        shop(),
        f"""{{ customer(id: 1) {{ orders(first: 2) {{ totalCount }} }} }}
        mutation {{ login(input: {{password: "{SECRET}", email: "x"}}) {{ token }} }}""",
        None,
        GLOBS,
    )

    assert variables is None
    assert_no_secret(query)
    assert "orders(first: 2)" in query


def test_redaction_is_reusable_on_a_cached_analysis() -> None:
    analysis = analysis_of(
        "mutation Login($in: LoginInput!) { login(input: $in) { token } }", {"in": {"password": "p", "email": "e"}}
    )

    first = redact(shop(), analysis, {"in": {"password": SECRET, "email": "e"}}, GLOBS)
    second = redact(shop(), analysis, {"in": {"password": "other", "email": "f"}}, GLOBS)

    assert first[0] == {"in": {"password": REDACTED, "email": "e"}}
    assert second[0] == {"in": {"password": REDACTED, "email": "f"}}
    assert first[1] == second[1]
