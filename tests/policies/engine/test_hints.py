"""Hints for every refusal: each reason of a deny says what to change, and where a rewrite cures the
denial the answer's hints carry a suggested query that itself passes the check."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from policies.engine import (
    Decision,
    Reason,
    RequestContext,
    analyze,
    build_schema,
    compile_policy,
    decide,
    reasons,
)
from policies.engine.policy import Hours
from tests.support.hint_corpus import HintCase, limiter_reasons, shop_cases

from .factories import NO_CAPS, check, office_request, policy_document, policy_with_rules, support_bot

CASES = shop_cases()
FIXABLE = [case for case in CASES if case.fixable]
ONE_SENTENCE = re.compile(r"[A-Z`$].*[.]")


def allow(rule_id: str = "reads", operations: tuple[str, ...] = ("query.*",), **fields: Any) -> dict[str, Any]:
    return {"id": rule_id, "effect": "allow", "subjects": {"kinds": ["ai"]}, "operations": list(operations), **fields}


def suggested(decision: Decision) -> dict[str, Any]:
    [hint] = [hint for hint in decision.hints if hint["kind"] == "suggested_query"]
    return hint


def hint_of(decision: Decision, code: str) -> str:
    [reason] = [reason for reason in decision.reasons if reason.code == code]
    return reason.hint


def entries(decision: Decision, kind: str) -> list[dict[str, Any]]:
    return [hint for hint in decision.hints if hint["kind"] == kind]


def is_one_sentence(hint: str) -> bool:
    return ONE_SENTENCE.fullmatch(hint) is not None and "\n" not in hint and ". " not in hint.rstrip(".")


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_every_reason_of_a_denial_carries_a_hint_of_one_sentence(case: HintCase) -> None:
    decision = case.decide()

    assert decision.decision == "deny"
    assert [reason.code for reason in decision.reasons if not is_one_sentence(reason.hint)] == []


@pytest.mark.parametrize("case", FIXABLE, ids=[case.name for case in FIXABLE])
def test_a_fixable_denial_suggests_a_query_that_passes_for_the_same_policy_and_agent(case: HintCase) -> None:
    hint = suggested(case.decide())

    assert case.decide(hint["query"], hint["variables"]).decision == "allow"


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_a_suggested_query_is_offered_only_when_it_passes(case: HintCase) -> None:
    for hint in entries(case.decide(), "suggested_query"):
        assert case.decide(hint["query"], hint["variables"]).decision == "allow"


@pytest.mark.parametrize("reason", limiter_reasons(), ids=lambda reason: reason.code)
def test_reasons_decided_outside_the_rules_carry_a_hint_too(reason: Reason) -> None:
    assert is_one_sentence(reason.hint)


def test_the_cases_cover_every_reason_code() -> None:
    approval = check("mutation { refundOrder(id: 1) { id } }")
    seen = {reason.code for case in CASES for reason in case.decide().reasons}
    seen |= {reason.code for reason in [*limiter_reasons(), *approval.reasons]}
    defined = {value for name, value in vars(reasons).items() if name.isupper() and isinstance(value, str)}

    assert seen == defined
    assert is_one_sentence(approval.reasons[0].hint)


def test_an_allowed_check_carries_no_hints() -> None:
    assert check("{ orders(first: 5) { totalCount } }").hints == []


# --- COST_LIMIT --------------------------------------------------------------------------

COSTLY = "{ orders(first: 100000) { edges { node { id customer { name } } } } }"  # 1 + 3 x first


def test_cost_limit_names_the_slicing_argument_and_the_largest_value_that_fits() -> None:
    decision = check(COSTLY, policy=policy_with_rules(allow(limits={"max_cost": 300})))

    assert hint_of(decision, "COST_LIMIT") == (
        "The cost comes from slicing arguments: set first on orders to at most 99 to stay within 300"
        " (it then costs 298)."
    )
    hint = suggested(decision)
    assert "orders(first: 99)" in hint["query"]
    assert hint["changed_arguments"] == [{"path": ["orders"], "argument": "first", "value": 99, "variable": None}]


def test_a_slicing_argument_from_a_variable_is_lowered_in_the_variables_the_hint_names() -> None:
    query = "query Q($n: Int) { orders(first: $n) { edges { node { id customer { name } } } } }"

    decision = check(query, policy=policy_with_rules(allow(limits={"max_cost": 300})), variables={"n": 100000})

    assert "send $n with a value of at most 99" in hint_of(decision, "COST_LIMIT")
    hint = suggested(decision)
    assert (hint["query"].startswith("query Q($n: Int)"), hint["variables"]) == (True, {"n": 99})


def test_an_omitted_slicing_argument_whose_default_drives_the_cost_is_added_to_the_suggestion() -> None:
    decision = check("{ orders { edges { node { id } } } }", policy=policy_with_rules(allow(limits={"max_cost": 21})))

    assert "set first on orders to at most 10" in hint_of(decision, "COST_LIMIT")
    assert "orders(first: 10)" in suggested(decision)["query"]


def test_several_slicing_arguments_are_lowered_to_one_cap() -> None:
    query = "{ orders(first: 50) { edges { node { customer { orders(first: 50) { totalCount } } } } } }"

    decision = check(query, policy=policy_with_rules(allow(limits={"max_cost": 100})))

    hint = suggested(decision)
    assert {change["value"] for change in hint["changed_arguments"]} == {24}
    assert check(hint["query"], policy=policy_with_rules(allow(limits={"max_cost": 100}))).decision == "allow"


def test_a_cost_no_slicing_argument_drives_gets_a_hint_but_no_suggestion() -> None:
    decision = check('{ search(text: "lamp") { ... on Order { id } } }', policy=policy_with_rules(
        allow(limits={"max_cost": 5})))

    assert hint_of(decision, "COST_LIMIT").startswith("Lower the slicing arguments")
    assert entries(decision, "suggested_query") == []


# --- CONDITION_NOT_MET -------------------------------------------------------------------


def test_an_hours_hint_names_when_the_window_next_opens_in_the_rules_time_zone() -> None:
    saturday = office_request(now=datetime(2025, 1, 4, 10, 0, tzinfo=UTC))

    decision = check("{ orders(first: 5) { totalCount } }", request=saturday)

    assert hint_of(decision, "CONDITION_NOT_MET") == (
        "Rule 'support-reads-orders' admits query.orders only from 08:00 to 18:00 on Monday to Friday"
        " (Europe/Berlin); retry at 2025-01-06T08:00:00+01:00, when the window next opens."
    )
    [entry] = entries(decision, "condition_not_met")
    assert entry["conditions"] == [{"condition": "hours", "next_window_opens_at": "2025-01-06T08:00:00+01:00"}]


@pytest.mark.parametrize(
    ("now", "opens"),
    [
        (datetime(2025, 1, 6, 12, 0, tzinfo=UTC), datetime(2025, 1, 6, 22, 0, tzinfo=UTC)),  # Monday noon
        (datetime(2025, 1, 7, 12, 0, tzinfo=UTC), datetime(2025, 1, 13, 0, 0, tzinfo=UTC)),  # after Monday's night
        (datetime(2025, 1, 6, 3, 0, tzinfo=UTC), None),  # inside the window (Monday's early hours)
    ],
)
def test_an_overnight_window_next_opens_at_its_start_or_at_midnight_of_a_listed_day(
    now: datetime, opens: datetime | None
) -> None:
    monday_nights = Hours(time(22, 0), time(6, 0), frozenset({0}), ZoneInfo("UTC"))

    assert monday_nights.next_opening(now) == opens


def test_a_source_ips_hint_names_the_networks_to_send_from() -> None:
    decision = check("{ orders(first: 5) { totalCount } }", request=office_request(ip="192.168.1.1"))

    assert hint_of(decision, "CONDITION_NOT_MET") == (
        "Rule 'support-reads-orders' admits query.orders only from addresses in the network 10.0.0.0/8;"
        " send the check from an address in it."
    )


def test_an_expression_hint_names_the_first_clause_that_does_not_hold() -> None:
    decision = check("{ orders(first: 60) { totalCount } }")

    assert "only when `(!has(args.first) || args.first <= 50)` holds" in hint_of(decision, "CONDITION_NOT_MET")
    [entry] = entries(decision, "condition_not_met")
    assert entry["conditions"] == [{"condition": "expression", "clause": "(!has(args.first) || args.first <= 50)"}]


def test_an_expression_that_is_no_conjunction_is_named_as_a_whole() -> None:
    policy = policy_with_rules(allow(when={"expression": 'agent.name == "x" || args.first < 2'}))

    decision = check("{ orders(first: 5) { totalCount } }", policy=policy)

    assert "only when `agent.name == \"x\" || args.first < 2` holds" in hint_of(decision, "CONDITION_NOT_MET")


def test_no_clause_is_evaluated_over_inputs_beyond_the_cel_caps() -> None:
    policy = policy_with_rules(allow(when={"expression": 'size(context) > 0 && context.a == "b"'}))
    crowded = office_request(context={"a": ["x"] * 200})

    decision = check("{ orders(first: 5) { totalCount } }", policy=policy, request=crowded)

    assert [reason.code for reason in decision.reasons] == ["CONDITION_NOT_MET", "EXPRESSION_INPUT_TOO_LARGE"]
    assert entries(decision, "condition_not_met")[0]["conditions"] == [{"condition": "expression", "clause": None}]


# --- NO_MATCHING_RULE --------------------------------------------------------------------


def test_no_matching_rule_lists_the_operations_the_agent_may_call_and_the_policys_contact() -> None:
    bundle = build_schema("type Query { " + " ".join(f"op{i}: Int" for i in range(30)) + " other: Int }")
    document = {"schema": "wide", "contact": "#api-owners on chat",
                "rules": [allow(operations=("query.op*",)), {"id": "no-op7", "effect": "deny",
                                                            "operations": ["query.op7"]}]}

    decision = decide(compile_policy(document, schema=bundle), analyze(bundle, "{ other }"),
                      subject=support_bot(), request=office_request(), caps=NO_CAPS)

    [entry] = entries(decision, "callable_operations")
    assert (len(entry["operations"]), entry["count"], entry["contact"]) == (20, 29, "#api-owners on chat")
    assert "query.op7" not in entry["operations"]
    assert hint_of(decision, "NO_MATCHING_RULE") == (
        "Leave query.other out: this agent may call 29 operations of this schema (query.op0, query.op1,"
        " query.op2, query.op3, query.op4 and 24 more); ask the policy's owner (#api-owners on chat) for a rule"
        " if it needs query.other."
    )


def test_a_root_field_no_rule_admits_is_left_out_of_the_suggestion() -> None:
    decision = check('{ orders(first: 1) { totalCount } rate: exchangeRate(currency: "EUR") }')

    hint = suggested(decision)
    assert (hint["removed_paths"], hint["fixes"]) == ([["rate"]], ["NO_MATCHING_RULE"])


# --- DEPTH_LIMIT, ALIAS_LIMIT, ROOT_FIELD_LIMIT ------------------------------------------


def test_a_depth_rewrite_removes_the_selections_it_empties_up_the_tree() -> None:
    policy = policy_with_rules(allow(limits={"max_depth": 3}))

    decision = check("{ customer(id: 1) { name orders(first: 2) { edges { node { id } } } } }", policy=policy)

    assert suggested(decision)["query"] == "{\n  customer(id: 1) {\n    name\n  }\n}"
    assert hint_of(decision, "DEPTH_LIMIT") == (
        "Nest selections at most 3 levels deep (the root field is level 1): drop the deeper selections, such as"
        " customer.orders.edges.node."
    )


def test_excess_aliases_lose_their_alias_where_the_name_is_free_and_go_where_it_clashes() -> None:
    policy = policy_with_rules(allow(limits={"max_aliases": 1}))
    query = "{ a: order(id: 1) { id } b: order(id: 2) { id } c: customer(id: 3) { id } }"

    decision = check(query, policy=policy)

    hint = suggested(decision)
    assert (hint["unaliased_paths"], hint["removed_paths"]) == ([["b"]], [["c"]]) or (
        hint["unaliased_paths"], hint["removed_paths"]) == ([["b"], ["c"]], [])
    assert check(hint["query"], policy=policy).decision == "allow"
    assert hint_of(decision, "ALIAS_LIMIT").startswith("Use at most 1 alias: remove the alias of b")


def test_two_excess_aliases_of_one_field_cannot_both_take_its_name() -> None:
    policy = policy_with_rules(allow(limits={"max_aliases": 0}))

    decision = check("{ a: order(id: 1) { id } b: order(id: 2) { id } }", policy=policy)

    hint = suggested(decision)
    assert (hint["unaliased_paths"], hint["removed_paths"]) == ([["a"]], [["b"]])
    assert hint_of(decision, "ALIAS_LIMIT") == "Use at most 0 aliases: remove the alias of a and move b to another check."


def test_extra_root_fields_are_left_out_keeping_the_first_ones() -> None:
    policy = policy_with_rules(allow(limits={"max_root_fields": 2}))

    decision = check("{ a: order(id: 1) { id } b: order(id: 2) { id } c: order(id: 3) { id } }", policy=policy)

    assert suggested(decision)["removed_paths"] == [["c"]]
    assert hint_of(decision, "ROOT_FIELD_LIMIT") == "Select at most 2 root fields in one document: send c in another check."


# --- wording -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("limits", "query", "message"),
    [
        ({"max_depth": 6}, "{ customer(id: 1) { orders(first: 1) { edges { node { customer { orders(first: 1)"
                           " { totalCount } } } } } } }", "The document is nested 7 levels deep; rule 'reads'"
                                                          " allows at most 6 levels."),
        ({"max_aliases": 1}, "{ a: order(id: 1) { id } b: order(id: 2) { id } }",
         "The document uses 2 aliases; rule 'reads' allows at most 1 alias."),
        ({"max_root_fields": 1}, "{ order(id: 1) { id } customer(id: 2) { id } }",
         "The document selects 2 root fields; rule 'reads' allows at most 1 root field."),
        ({"max_cost": 1}, "{ orders(first: 1) { edges { node { id } } } }",
         "The document costs 3; rule 'reads' allows at most 1."),
    ],
)
def test_limit_messages_are_grammatical(limits: dict[str, int], query: str, message: str) -> None:
    decision = check(query, policy=policy_with_rules(allow(limits=limits)))

    assert [reason.message for reason in decision.reasons] == [message]


def test_limits_from_the_defaults_are_worded_in_the_plural() -> None:
    decision = check("{ " + " ".join(f"a{i}: order(id: {i}) {{ id }}" for i in range(16)) + " }",
                     policy=policy_with_rules(allow(limits={"max_root_fields": 50})))

    assert decision.reasons[0].message == (
        "The document uses 16 aliases; the policy defaults or server caps allow at most 15 aliases."
    )


def test_a_policy_contact_reaches_the_hint() -> None:
    policy = compile_policy(policy_document(contact="payments-team@example.com", rules=[]))

    decision = check("{ order(id: 1) { id } }", policy=policy, request=RequestContext(
        ip="10.0.0.1", now=datetime(2025, 1, 6, 9, 0, tzinfo=UTC)))

    assert "ask the policy's owner (payments-team@example.com)" in hint_of(decision, "NO_MATCHING_RULE")
    assert hint_of(decision, "NO_MATCHING_RULE").startswith("This agent may call no operation of this schema")
