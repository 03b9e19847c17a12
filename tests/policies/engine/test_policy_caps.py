"""Absurd values are refused when a policy loads, each with the cap it exceeds named: limits over
the server's hard caps, a burst over its amount, an over-long description, and a CEL condition
that is not a boolean (its rule would otherwise silently never match)."""

from __future__ import annotations

from typing import Any

import pytest

from policies.engine import Limits, PolicyValidationError, compile_policy

from .factories import policy_document

CAPS = Limits(max_depth=50, max_aliases=500, max_root_fields=100, max_tokens=8000, max_directives=500, max_cost=10**6)


def errors_of(document: dict[str, Any], caps: Limits | None = CAPS) -> list[dict[str, Any]]:
    with pytest.raises(PolicyValidationError) as raised:
        compile_policy(document, caps=caps)
    return raised.value.errors


def with_rule(**fields: Any) -> dict[str, Any]:
    rule = {"id": "r", "effect": "allow", "operations": ["query.order"], **fields}
    return policy_document(rules=[rule])


def test_a_rule_limit_over_the_hard_cap_is_refused_naming_the_cap_and_its_setting() -> None:
    [error] = errors_of(with_rule(limits={"max_depth": 99999999999999999999999}))

    assert (error["rule"], error["field"]) == ("r", "rules[0].limits.max_depth")
    assert error["message"] == "must be at most 50: the server's hard cap on max_depth (GQLGOV_CAP_MAX_DEPTH)"


def test_a_default_limit_over_the_hard_cap_is_refused() -> None:
    document = policy_document()
    document["defaults"]["limits"] = {"max_cost": 10**6 + 1}

    [error] = errors_of(document)

    assert error["field"] == "defaults.limits.max_cost"
    assert "at most 1,000,000" in error["message"] and "GQLGOV_CAP_MAX_COST" in error["message"]


def test_a_limit_at_the_cap_loads() -> None:
    policy = compile_policy(with_rule(limits={"max_depth": 50}), caps=CAPS)

    assert policy.rules[0].limits.max_depth == 50


def test_a_stored_version_compiled_without_caps_still_loads_after_a_cap_is_lowered() -> None:
    policy = compile_policy(with_rule(limits={"max_depth": 60}))

    assert policy.rules[0].limits.max_depth == 60


@pytest.mark.parametrize("burst", [10**26, 61])
def test_a_burst_over_its_amount_is_refused_naming_the_amount(burst: int) -> None:
    [error] = errors_of(with_rule(rate_limits=[{"requests": 60, "per": "minute", "burst": burst}]))

    assert error["field"] == "rules[0].rate_limits[0].burst"
    assert error["message"] == "must be at most 60, the requests per minute it belongs to"


def test_a_cost_budget_over_the_limiter_ceiling_is_refused() -> None:
    [error] = errors_of(with_rule(rate_limits=[{"cost": 10**26, "per": "second"}]))

    assert error["field"] == "rules[0].rate_limits[0].cost"
    assert "at most 1,000,000 per second" in error["message"]


def test_a_200000_character_rule_description_is_refused_with_the_length_cap() -> None:
    [error] = errors_of(with_rule(description="x" * 200_000))

    assert error["field"] == "rules[0].description"
    assert error["message"] == "must be at most 2,000 characters (it has 200,000)"


def test_a_200000_character_policy_description_is_refused() -> None:
    [error] = errors_of(policy_document(description="x" * 200_000))

    assert error["field"] == "description"
    assert "at most 2,000 characters" in error["message"]


@pytest.mark.parametrize(
    ("expression", "kind"),
    [
        ("args.amount + 1", "a number"),
        ("size(claims.groups)", "an int"),
        ('"yes"', "a string"),
        ("1 + 2", "an int"),
        ("args", "a map"),
        ("[true]", "a list"),
        ('args.amount > 1 ? "big" : "small"', "a string"),
        ("claims.groups.map(g, g)", "a list"),
    ],
)
def test_a_cel_expression_that_is_not_boolean_is_refused_naming_its_type(expression: str, kind: str) -> None:
    [error] = errors_of(with_rule(when={"expression": expression}))

    assert error["field"] == "rules[0].when.expression"
    assert error["message"].startswith(f"must be a boolean condition, but it gives {kind};")


@pytest.mark.parametrize(
    "expression",
    [
        "args.amount <= 100",
        "args.flag",  # a value from the request: its type is known only at a check
        "!args.flag",
        '"admin" in claims.groups',
        'claims.groups.exists(g, g == "a") && args.amount < 5',
        "has(args.note)",
        "args.amount > 1 ? true : args.override",
        "(1 == 1)",
        'request.source_ip.startsWith("10.")',
    ],
)
def test_a_boolean_or_dynamic_cel_expression_loads(expression: str) -> None:
    policy = compile_policy(with_rule(when={"expression": expression}), caps=CAPS)

    assert policy.rules[0].expression_text == expression
