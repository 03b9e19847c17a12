"""The intersection of an agent's decision and a person's (engine.intersect): plain functions, no database."""

from policies import engine
from policies.engine import reasons
from policies.engine.decide import Decision

OPERATION = {"name": None, "type": "query", "root_fields": ["orders"]}
METRICS = {"depth": 2, "cost": 1}


def allow(*rules: str) -> Decision:
    return Decision(engine.ALLOW, [], METRICS, OPERATION, list(rules), rules[0] if rules else None)


def deny(rule: str) -> Decision:
    reason = reasons.denied_by_rule("query.orders", ("orders",), rule)
    return Decision(engine.DENY, [reason], METRICS, OPERATION, [], rule, hints=[{"kind": "x"}])


def pending(rule: str) -> Decision:
    reason = reasons.approval_required("query.orders", ("orders",), rule)
    return Decision(engine.PENDING_APPROVAL, [reason], METRICS, OPERATION, [rule], rule)


def sides(decision: Decision) -> list[tuple[str, str | None]]:
    return [(reason.code, reason.side) for reason in decision.reasons]


def test_both_allowing_is_an_allow_that_keeps_each_sides_admitting_rules():
    both = engine.intersect(allow("agent-rule"), allow("person-rule"))

    assert both.decision == engine.ALLOW
    assert (both.admitting_rules, both.delegator_rules) == (["agent-rule"], ["person-rule"])


def test_either_side_denying_is_a_deny_with_that_sides_reasons_and_hints():
    assert sides(engine.intersect(deny("a"), allow("p"))) == [("DENIED_BY_RULE", "agent")]
    person_denies = engine.intersect(allow("a"), deny("p"))
    assert sides(person_denies) == [("DENIED_BY_RULE", "delegator")]
    assert person_denies.hints == [{"kind": "x", "side": "delegator"}]
    assert person_denies.deciding_rule == "p"


def test_both_denying_reports_both_sides():
    assert sides(engine.intersect(deny("a"), deny("p"))) == [("DENIED_BY_RULE", "agent"), ("DENIED_BY_RULE", "delegator")]


def test_a_deny_outweighs_the_other_sides_approval():
    assert engine.intersect(pending("a"), deny("p")).decision == engine.DENY
    assert sides(engine.intersect(pending("a"), deny("p"))) == [("DENIED_BY_RULE", "delegator")]


def test_an_approval_on_either_side_makes_the_check_pending():
    decision = engine.intersect(allow("a"), pending("p"))

    assert decision.decision == engine.PENDING_APPROVAL
    assert sides(decision) == [("APPROVAL_REQUIRED", "delegator")]
    assert decision.deciding_rule == "p"


def test_a_conditional_side_makes_the_intersection_conditional():
    conditional = Decision(engine.ALLOW, [], METRICS, OPERATION, ["p"], "p", conditional=True)

    assert engine.intersect(allow("a"), conditional).conditional


def test_reasons_outside_a_delegation_carry_no_side():
    assert "side" not in deny("a").reasons[0].as_dict()
    assert engine.intersect(allow("a"), deny("p")).reasons[0].as_dict()["side"] == "delegator"
