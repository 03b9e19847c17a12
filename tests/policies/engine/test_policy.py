"""Policy files: every validation problem reported with rule id and field, YAML round trips,
rate limits, and the policy measured against a schema (stale references, ungoverned operations)."""

from __future__ import annotations

from typing import Any

import pytest

from policies.engine import (
    PolicyValidationError,
    build_schema,
    compile_policy,
    dump_policy_yaml,
    parse_policy_yaml,
    stale_references,
    ungoverned_operations,
)

from .factories import data_text, policy_document, shop


def errors_of(document: dict[str, Any]) -> list[dict[str, Any]]:
    with pytest.raises(PolicyValidationError) as raised:
        compile_policy(document)
    return raised.value.errors


def rule(**fields: Any) -> dict[str, Any]:
    return {"id": "r", "effect": "allow", "operations": ["query.order"], **fields}


def test_the_example_policy_compiles_with_its_rules_and_defaults() -> None:
    policy = compile_policy(policy_document(), schema=shop())

    assert [r.id for r in policy.rules] == ["support-reads-orders", "no-ai-deletes", "refunds-need-a-human"]
    assert policy.default_limits.max_cost == 1000
    assert not policy.introspection_allowed
    assert [(limit.kind, limit.limit, limit.per) for limit in policy.default_rate_limits] == [
        ("requests", 600, "minute"),
        ("cost", 5000, "hour"),
    ]


@pytest.mark.parametrize(
    ("bad_rule", "field", "message_part"),
    [
        (rule(colour="red"), "rules[0].colour", "unknown key"),
        (rule(effect="permit"), "rules[0].effect", "allow, deny, require_approval"),
        (rule(operations=["orders"]), "rules[0].operations[0]", "not an operation glob"),
        (rule(operations=["query.[orders"]), "rules[0].operations[0]", "not an operation glob"),
        (rule(subjects={}), "rules[0].subjects", "must list"),
        (rule(subjects={"agents": ["a"], "teams": ["x"]}), "rules[0].subjects.teams", "unknown key"),
        (rule(when={"source_ips": ["10.0.0.300/8"]}), "rules[0].when.source_ips[0]", "not a CIDR"),
        (rule(when={"source_ips": ["10.0.0.1/8"]}), "rules[0].when.source_ips[0]", "has host bits set"),
        (rule(when={"hours": {"from": "8am", "to": "18:00"}}), "rules[0].when.hours.from", "HH:MM"),
        (
            rule(when={"hours": {"from": "08:00", "to": "18:00", "tz": "Mars/Olympus"}}),
            "rules[0].when.hours.tz",
            "unknown time zone",
        ),
        (
            rule(when={"hours": {"from": "08:00", "to": "18:00", "days": ["funday"]}}),
            "rules[0].when.hours.days",
            "non-empty list",
        ),
        (rule(when={"expression": "args.first <="}), "rules[0].when.expression", "CEL syntax error"),
        # Would overflow the CEL library's native stack on evaluation and kill the web worker.
        (rule(when={"expression": "1" + " + 1" * 20_000 + " > 0"}), "rules[0].when.expression", "too complex"),
        (
            rule(when={"expression": '"' + "a" * 100_000 + '" != ""'}),
            "rules[0].when.expression",
            "longer than 100,000 characters",
        ),
        (
            rule(when={"expression": "user.admin == true"}),
            "rules[0].when.expression",
            "unknown variable(s) user",
        ),
        (rule(limits={"max_depth": -1}), "rules[0].limits.max_depth", "integer >= 0"),
        (rule(limits={"max_speed": 3}), "rules[0].limits.max_speed", "unknown key"),
        (rule(fields={"deny": ["ssn"]}), "rules[0].fields.deny[0]", "not a coordinate glob"),
        (
            rule(rate_limits=[{"requests": 10, "per": "fortnight"}]),
            "rules[0].rate_limits[0].per",
            "second, minute",
        ),
        (
            rule(rate_limits=[{"requests": 10, "cost": 5, "per": "minute"}]),
            "rules[0].rate_limits[0]",
            "exactly one",
        ),
        (rule(rate_limits=[{"cost": 0, "per": "minute"}]), "rules[0].rate_limits[0].cost", "positive integer"),
        (
            rule(rate_limits=[{"requests": 5, "per": "minute", "burst": "lots"}]),
            "rules[0].rate_limits[0].burst",
            "positive integer",
        ),
        (
            rule(rate_limits=[{"requests": 100_000_000, "per": "second"}]),
            "rules[0].rate_limits[0].requests",
            "at most 1,000,000 per second",
        ),
        (
            rule(rate_limits=[{"cost": 86_400_000_001, "per": "day"}]),
            "rules[0].rate_limits[0].cost",
            "at most 86,400,000,000 per day",
        ),
        (
            rule(rate_limits=[{"requests": 5, "per": "minute"}, {"requests": 50, "per": "minute"}]),
            "rules[0].rate_limits[1]",
            "same kind and period as rate limit [0]",
        ),
        (
            rule(rate_limits=[{"requests": 5, "per": "minute", "window": 3}]),
            "rules[0].rate_limits[0]",
            "unknown keys ['window']",
        ),
    ],
)
def test_each_problem_is_reported_with_the_rule_id_and_field(
    bad_rule: dict[str, Any], field: str, message_part: str
) -> None:
    errors = errors_of(policy_document(rules=[bad_rule]))

    assert [(e["rule"], e["field"]) for e in errors] == [("r", field)]
    assert message_part in errors[0]["message"]


def test_cel_comprehension_variables_are_not_unknown_variables() -> None:
    compile_policy(
        policy_document(rules=[rule(when={"expression": 'agent.groups.exists(g, g == "support")'})])
    )


def test_all_problems_are_reported_not_only_the_first() -> None:
    document = policy_document(
        defaults={
            "limits": {"max_cost": "lots"},
            "introspection": "maybe",
            "rate_limits": [{"per": "minute"}],
        },
        rules=[rule(id="dup"), rule(id="dup", effect="nope"), {"effect": "allow", "operations": ["query.*"]}],
    )

    errors = errors_of(document)

    assert [(e["rule"], e["field"]) for e in errors] == [
        (None, "defaults.limits.max_cost"),
        (None, "defaults.introspection"),
        (None, "defaults.rate_limits[0]"),
        ("dup", "rules[1].id"),
        ("dup", "rules[1].effect"),
        (None, "rules[2].id"),
    ]


def test_unknown_top_level_keys_and_a_missing_schema_name_are_errors() -> None:
    document = policy_document(rulez=[])
    del document["schema"]

    assert [(e["field"], e["message"]) for e in errors_of(document)] == [
        ("rulez", "unknown key 'rulez'"),
        ("schema", "must name the schema this policy governs"),
    ]


def test_a_policy_names_its_owner_in_an_optional_contact() -> None:
    assert compile_policy(policy_document()).contact == "shop-api-owners@example.com"
    assert compile_policy(policy_document(contact=None)).contact is None


@pytest.mark.parametrize(
    ("contact", "message"),
    [
        (["alice"], "must be a non-empty string on one line (who owns this policy)"),
        ("  ", "must be a non-empty string on one line (who owns this policy)"),
        ("alice\nbob", "must be a non-empty string on one line (who owns this policy)"),
        ("x" * 201, "must be at most 200 characters"),
    ],
)
def test_a_contact_is_one_short_line_of_plain_text(contact: Any, message: str) -> None:
    assert [(e["field"], e["message"]) for e in errors_of(policy_document(contact=contact))] == [("contact", message)]


def test_yaml_syntax_errors_carry_line_and_column() -> None:
    with pytest.raises(PolicyValidationError) as raised:
        parse_policy_yaml("schema: shop\nrules: [\n")

    assert "line 3" in raised.value.errors[0]["message"]


def test_operators_inside_string_literals_do_not_count_as_nesting() -> None:
    expression = 'agent.name in ["' + "+".join(["a"] * 400) + '", r"\\", \'\'\'-(-(-\'\'\']'
    document = policy_document(rules=[rule(when={"expression": expression})])

    assert compile_policy(document).rules[0].expression is not None


def test_unclosed_string_literals_are_measured_in_linear_time() -> None:
    # Exponential for a regular expression with escapes: 60 backslashes would take hours.
    [error] = errors_of(policy_document(rules=[rule(when={"expression": "'''" + "\\" * 50_000})]))

    assert error["message"].startswith("CEL syntax error")


def test_cel_syntax_errors_do_not_quote_a_whole_long_expression() -> None:
    [error] = errors_of(policy_document(rules=[rule(when={"expression": "(" * 200 + "x" * 10_000})]))

    assert error["message"].startswith("CEL syntax error")
    assert len(error["message"]) < 400


def test_a_key_repeated_in_one_mapping_fails_the_load() -> None:
    with pytest.raises(PolicyValidationError) as raised:
        parse_policy_yaml("schema: shop\nrules:\n  - {id: a, effect: allow}\nrules: []\n")

    assert raised.value.errors[0]["message"] == "YAML syntax error at line 4, column 1: duplicate key 'rules'"


def test_keys_merged_in_may_be_overridden() -> None:
    document = parse_policy_yaml("base: &base {effect: allow, id: a}\nrule: {<<: *base, id: b}\n")

    assert document["rule"] == {"effect": "allow", "id": "b"}


def test_yaml_nested_beyond_the_parser_gets_an_error() -> None:
    with pytest.raises(PolicyValidationError) as raised:
        parse_policy_yaml("schema: " + "[" * 100_000)

    assert raised.value.errors[0]["message"] == "YAML nested too deeply"


def test_unquoted_clock_times_stay_strings() -> None:
    document = parse_policy_yaml("when: {hours: {from: 08:00, to: 18:00}}\nflag: on\nyes: true")

    assert document == {"when": {"hours": {"from": "08:00", "to": "18:00"}}, "flag": "on", "yes": True}


def test_dumping_and_reading_back_is_stable() -> None:
    original = parse_policy_yaml(data_text("shop_policy.yaml"))

    dumped = dump_policy_yaml(original)

    assert parse_policy_yaml(dumped) == original
    assert dump_policy_yaml(parse_policy_yaml(dumped)) == dumped


def test_default_rate_limits_beyond_what_the_limiter_enforces_fail_the_load() -> None:
    document = policy_document(
        defaults={"rate_limits": [{"requests": 100_000_000, "per": "second"}, {"cost": -5, "per": "hour"}]}
    )

    assert [(e["rule"], e["field"]) for e in errors_of(document)] == [
        (None, "defaults.rate_limits[0].requests"),
        (None, "defaults.rate_limits[1].cost"),
    ]


def test_the_fastest_rate_the_limiter_enforces_loads() -> None:
    policy = compile_policy(policy_document(rules=[rule(rate_limits=[{"requests": 1_000_000, "per": "second"}])]))

    assert [limit.limit for limit in policy.rules[0].rate_limits] == [1_000_000]


def test_burst_defaults_to_the_limit() -> None:
    policy = compile_policy(policy_document(rules=[rule(rate_limits=[{"cost": 300, "per": "hour"}])]))

    [limit] = policy.rules[0].rate_limits
    assert (limit.limit, limit.burst, limit.period_seconds) == (300, 300, 3600)


def test_stale_references_name_missing_operations_and_fields_without_failing_the_load() -> None:
    document = policy_document(
        rules=[
            rule(
                id="old",
                operations=["query.order", "query.legacyOrders*", "mutation.*"],
                fields={"deny": ["Customer.ssn", "Customer.pin", "*.secret*"]},
            ),
        ]
    )

    policy = compile_policy(document, schema=shop())

    assert [(s.rule, s.field, s.reference, s.kind) for s in stale_references(policy, shop())] == [
        ("old", "rules[0].operations[1]", "query.legacyOrders*", "operation"),
        ("old", "rules[0].fields.deny[1]", "Customer.pin", "field"),
        ("old", "rules[0].fields.deny[2]", "*.secret*", "field"),
    ]


def test_ungoverned_operations_are_those_no_rule_of_any_effect_names() -> None:
    policy = compile_policy(policy_document(), schema=shop())

    assert ungoverned_operations(policy, shop()) == [
        "query.salesReport",
        "query.exchangeRate",
        "query.customersByIds",
        "mutation.updatePayment",
        "mutation.login",
        "mutation.verifyIdentity",
    ]


def test_an_operation_only_a_deny_rule_names_is_governed() -> None:
    policy = compile_policy(policy_document(), schema=shop())

    assert [rule.effect for rule in policy.rules if rule.index in policy.rules_for_operation("mutation.deleteOrder")] \
        == ["deny"]
    assert "mutation.deleteOrder" not in ungoverned_operations(policy, shop())


def test_a_new_schema_version_turns_rules_stale_and_operations_ungoverned() -> None:
    v2 = build_schema(data_text("shop_v2.graphql"))
    policy = compile_policy(policy_document(), schema=v2)

    assert [s.reference for s in stale_references(policy, v2)] == ["mutation.delete*"]
    assert "mutation.cancelOrder" in ungoverned_operations(policy, v2)


def test_operation_globs_are_resolved_once_per_operation() -> None:
    policy = compile_policy(policy_document(), schema=shop())

    first = policy.rules_for_operation("query.orders")

    assert policy.rules_for_operation("query.orders") is first
    assert [policy.rules[i].id for i in sorted(first)] == ["support-reads-orders"]


def test_the_limits_record_has_one_field_per_dimension_of_the_one_table() -> None:
    from dataclasses import fields

    from policies.engine.limits import DIMENSIONS, Limits

    assert tuple(field.name for field in fields(Limits)) == DIMENSIONS
