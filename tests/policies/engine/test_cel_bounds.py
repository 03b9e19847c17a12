"""Bounded CEL conditions: the load limits on an expression's shape, the check-time caps on what
it reads, and the worst cases both admit (shared with `manage.py bench`)."""

from __future__ import annotations

from typing import Any

import pytest

from policies.engine import PolicyValidationError, compile_policy
from policies.engine.cel_bounds import MAX_CEL_INPUT_CHARS, MAX_CEL_INPUT_ITEMS
from policies.engine.hostile import hostile_cel_cases
from policies.engine.reasons import CONDITION_NOT_MET, EXPRESSION_INPUT_TOO_LARGE

from .factories import check, codes, office_request, policy_document, policy_with_rules, shop, support_bot

ORDER = "{ order(id: 1) { id } }"


def allow_when(expression: str, rule_id: str = "guarded", **fields: Any) -> dict[str, Any]:
    return {"id": rule_id, "effect": "allow", "subjects": {"kinds": ["ai"]}, "operations": ["query.*"],
            "when": {"expression": expression}, **fields}


def load_error(expression: str) -> str:
    with pytest.raises(PolicyValidationError) as raised:
        compile_policy(policy_document(rules=[allow_when(expression)]), schema=shop())
    [error] = raised.value.errors
    return error["message"]


def test_the_reviewed_attack_twenty_thousand_strings_through_map_is_denied_without_evaluation() -> None:
    policy = policy_with_rules(allow_when("context.l.map(x, x + 'a').size() > 0"))
    request = office_request(context={"l": [f"s{i}" for i in range(20_000)]})

    decision = check(ORDER, policy=policy, request=request)

    assert decision.decision == "deny"
    assert EXPRESSION_INPUT_TOO_LARGE in codes(decision)
    [reason] = [r for r in decision.reasons if r.code == EXPRESSION_INPUT_TOO_LARGE]
    assert (reason.rule, reason.limit) == ("guarded", MAX_CEL_INPUT_ITEMS)


def test_list_arguments_over_the_item_cap_are_not_handed_to_a_condition_reading_args() -> None:
    policy = policy_with_rules(allow_when("args.ids.exists(i, i == '7')"))
    ids = ", ".join(f'"{i}"' for i in range(MAX_CEL_INPUT_ITEMS + 1))

    decision = check("{ customersByIds(ids: [" + ids + "]) { id } }", policy=policy)

    assert decision.decision == "deny"
    assert EXPRESSION_INPUT_TOO_LARGE in codes(decision)


def test_strings_over_the_character_cap_are_not_evaluated() -> None:
    policy = policy_with_rules(allow_when("context.note.startsWith('a')"))
    request = office_request(context={"note": "a" * (MAX_CEL_INPUT_CHARS + 1)})

    decision = check(ORDER, policy=policy, request=request)

    assert [r.limit for r in decision.reasons if r.code == EXPRESSION_INPUT_TOO_LARGE] == [MAX_CEL_INPUT_CHARS]


def test_claims_count_towards_the_caps_too() -> None:
    policy = policy_with_rules(allow_when("'admins' in claims.groups"))
    subject = support_bot(claims={"groups": [f"g{i}" for i in range(MAX_CEL_INPUT_ITEMS + 1)]})

    assert EXPRESSION_INPUT_TOO_LARGE in codes(check(ORDER, policy=policy, subject=subject))


def test_an_unevaluated_deny_condition_fails_closed_even_when_another_rule_allows() -> None:
    deny = {"id": "no-bulk", "effect": "deny", "subjects": {"kinds": ["ai"]}, "operations": ["query.*"],
            "when": {"expression": "context.l.size() > 5"}}
    everyone = {"id": "reads", "effect": "allow", "subjects": {"kinds": ["ai"]}, "operations": ["query.*"]}
    request = office_request(context={"l": list(range(MAX_CEL_INPUT_ITEMS + 1))})

    decision = check(ORDER, policy=policy_with_rules(deny, everyone), request=request)

    assert decision.decision == "deny"
    assert codes(decision) == [EXPRESSION_INPUT_TOO_LARGE]


def test_inputs_at_the_caps_are_evaluated_normally() -> None:
    policy = policy_with_rules(allow_when("context.l.exists(x, x == 's3')"))
    request = office_request(context={"l": [f"s{i}" for i in range(MAX_CEL_INPUT_ITEMS - 1)]})

    assert check(ORDER, policy=policy, request=request).decision == "allow"


@pytest.mark.parametrize(
    ("expression", "message_part"),
    [
        ("context.a.exists(x, context.b.exists(y, y == x))", "a comprehension inside another one"),
        ("(context.a + context.b).map(x, x).size() > 0", "a comprehension over a concatenation"),
        (" && ".join(["context.a.all(x, x > 0)"] * 5), "5 comprehensions"),
        ("size(" + " + ".join(["context.s"] * 6) + ") > 0", "5 `+` operators"),
        ("context.n in [" + ", ".join(str(i) for i in range(101)) + "]", "101 items in list and map literals"),
        ("context.l.map(x, context.l).size() > 0", "a map() transform may use only its own variable"),
        ("context.l.map(x, [x, x, x]).size() > 0", "a map() transform may use only its own variable"),
    ],
)
def test_expressions_that_could_do_unbounded_work_are_refused_at_load(expression: str, message_part: str) -> None:
    message = load_error(expression)

    assert message.startswith("too much work")
    assert message_part in message


@pytest.mark.parametrize(
    "expression",
    [
        "context.l.map(x, x + '-x').filter(y, y.startsWith('a')).size() > 0",
        "context.region in ['eu-west-1', 'eu-central-1'] && context.l[0] == 'a'",
        "context.tags.exists(t, t in agent.groups) && context.tags.all(t, size(t) < 20)",
    ],
)
def test_ordinary_conditions_pass_the_load_limits(expression: str) -> None:
    compile_policy(policy_document(rules=[allow_when(expression)]), schema=shop())


@pytest.mark.parametrize("case", hostile_cel_cases(), ids=[case[0] for case in hostile_cel_cases()])
def test_the_worst_cases_the_limits_admit_load_and_are_decided(case: tuple[str, str, dict[str, Any]]) -> None:
    name, expression, context = case
    policy = policy_with_rules(allow_when(expression))

    decision = check(ORDER, policy=policy, request=office_request(context=context))

    over_caps = name == "cel_map_over_twenty_thousand_strings"
    assert (EXPRESSION_INPUT_TOO_LARGE in codes(decision)) is over_caps
    assert set(codes(decision)) <= {CONDITION_NOT_MET, EXPRESSION_INPUT_TOO_LARGE}
