"""Rule matching: which rules cover which agent and operation, and the compiled policy's indexes
agreeing with that one definition."""

from __future__ import annotations

import pytest

from policies.engine import Subject, compile_policy, covers_operation, covers_subject, rule_matches

from .factories import policy_document, shop

AGENTS = [
    Subject("support-bot", "ai", ("support",)),
    Subject("reports-bot", "ai"),
    Subject("ops-svc", "service", ("ops", "support")),
    Subject("alice", "human"),
]


def test_rule_subjects_match_on_any_listed_key() -> None:
    rule = {"subjects": {"agents": ["a"], "kinds": ["service"], "groups": ["ops"]}, "operations": ["query.*"]}
    assert rule_matches(rule, Subject("a", "ai"))
    assert rule_matches(rule, Subject("b", "service"))
    assert rule_matches(rule, Subject("c", "ai", ("ops",)))
    assert not rule_matches(rule, Subject("d", "ai", ("support",)))


def test_a_rule_without_subjects_covers_every_agent() -> None:
    assert rule_matches({"operations": ["query.*"]}, Subject("anyone", "human"), "query.orders")
    assert covers_subject(None, "anyone", "human", ())


def test_operation_globs_are_fnmatch_and_case_sensitive() -> None:
    rule = {"operations": ["query.orders*"]}
    agent = Subject("a", "ai")
    assert rule_matches(rule, agent, "query.ordersByCustomer")
    assert not rule_matches(rule, agent, "query.Orders")
    assert not rule_matches(rule, agent, "query.order")


@pytest.mark.parametrize(
    ("glob", "operation", "matches"),
    [
        ("*", "mutation.refundOrder", True),  # `*` crosses the dot
        ("query.order?", "query.orders", True),
        ("query.[oc]*", "query.customer", True),
        ("query.[!o]*", "query.orders", False),
        ("mutation.delete*", "query.deleteOrder", False),
    ],
)
def test_operation_globs_are_shell_patterns_over_the_whole_name(glob: str, operation: str, matches: bool) -> None:
    assert covers_operation([glob], operation) is matches


def test_no_operation_globs_match_nothing() -> None:
    assert not covers_operation([], "query.orders")


def test_the_compiled_policy_s_indexes_agree_with_the_matching_rules() -> None:
    policy = compile_policy(policy_document(), schema=shop())
    for agent in AGENTS:
        covered = [rule for rule in policy.rules if covers_subject(rule.subjects, agent.name, agent.kind, agent.groups)]
        assert policy.candidate_rules(agent.name, agent.kind, agent.groups) == covered
    for operation in [*shop().operations, "query.unknownField", "subscription.x"]:
        matching = {rule.index for rule in policy.rules if covers_operation(rule.operation_globs, operation)}
        assert policy.rules_for_operation(operation) == matching
