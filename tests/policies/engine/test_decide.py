"""Rule semantics of the pre-check issue: default deny, deny wins, approvals, conditions, field
denies, introspection, limits, and every reason code the engine emits."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from policies.engine import (
    AnalysisLimits,
    Limits,
    RequestContext,
    decide,
    deny_without_policy,
)
from policies.engine.reasons import (
    APPROVAL_REQUIRED,
    CONDITION_NOT_MET,
    DENIED_BY_RULE,
    DEPTH_LIMIT,
    FORBIDDEN_FIELD,
    INTROSPECTION_DISABLED,
    NO_ACTIVE_POLICY,
    NO_MATCHING_RULE,
    UNKNOWN_SCHEMA,
)

from .factories import (
    analysis_of,
    check,
    codes,
    example_policy,
    office_request,
    policy_with_rules,
    support_bot,
)

ORDERS = "{ orders(first: 5) { edges { node { id total } } } }"


def allow(
    rule_id: str = "reads", operations: tuple[str, ...] = ("query.*",), **fields: Any
) -> dict[str, Any]:
    return {
        "id": rule_id,
        "effect": "allow",
        "subjects": {"kinds": ["ai"]},
        "operations": list(operations),
        **fields,
    }


def test_a_covered_query_is_allowed_and_names_the_admitting_rule() -> None:
    decision = check(ORDERS)

    assert decision.decision == "allow"
    assert decision.reasons == []
    assert decision.admitting_rules == ["support-reads-orders"]
    assert decision.deciding_rule == "support-reads-orders"
    assert decision.operation == {"name": None, "type": "query", "root_fields": ["orders"]}
    assert decision.metrics == {
        "depth": 4,
        "aliases": 0,
        "root_fields": 1,
        "tokens": 18,
        "directives": 0,
        "cost": 11,
    }


def test_an_operation_no_rule_covers_is_denied_by_default() -> None:
    decision = check('{ exchangeRate(currency: "EUR") }')

    assert decision.decision == "deny"
    assert [(r.code, r.path) for r in decision.reasons] == [(NO_MATCHING_RULE, ("exchangeRate",))]


def test_every_root_field_must_be_admitted() -> None:
    decision = check('{ orders(first: 1) { totalCount } rate: exchangeRate(currency: "EUR") }')

    assert decision.decision == "deny"
    assert [(r.code, r.path) for r in decision.reasons] == [(NO_MATCHING_RULE, ("rate",))]


def test_a_matching_deny_rule_wins_over_allow_rules() -> None:
    policy = policy_with_rules(
        allow(operations=("mutation.*",)),
        {
            "id": "no-deletes",
            "effect": "deny",
            "subjects": {"kinds": ["ai"]},
            "operations": ["mutation.delete*"],
        },
    )

    decision = check("mutation { deleteOrder(id: 1) }", policy=policy)

    assert decision.decision == "deny"
    assert [(r.code, r.rule) for r in decision.reasons] == [(DENIED_BY_RULE, "no-deletes")]
    assert decision.deciding_rule == "no-deletes"


def test_require_approval_gives_pending_approval() -> None:
    decision = check("mutation { refundOrder(id: 1) { id } }")

    assert decision.decision == "pending_approval"
    assert [(r.code, r.rule, r.path) for r in decision.reasons] == [
        (APPROVAL_REQUIRED, "refunds-need-a-human", ("refundOrder",))
    ]
    assert decision.admitting_rules == ["refunds-need-a-human"]


def test_a_deny_beats_a_pending_approval_in_the_same_document() -> None:
    decision = check("mutation { refundOrder(id: 1) { id } deleteOrder(id: 1) }")

    assert decision.decision == "deny"
    assert codes(decision) == [DENIED_BY_RULE]


def test_subjects_match_by_agent_kind_or_group() -> None:
    policy = policy_with_rules(
        {
            "id": "by-name",
            "effect": "allow",
            "subjects": {"agents": ["alice"]},
            "operations": ["query.order"],
        },
        {
            "id": "by-group",
            "effect": "allow",
            "subjects": {"groups": ["billing"]},
            "operations": ["query.customer"],
        },
    )
    human = support_bot(name="alice", kind="human", groups=())
    billing = support_bot(name="b", kind="service", groups=("billing",))

    assert check("{ order(id: 1) { id } }", policy=policy, subject=human).decision == "allow"
    assert check("{ order(id: 1) { id } }", policy=policy, subject=billing).decision == "deny"
    assert check("{ customer(id: 1) { id } }", policy=policy, subject=billing).decision == "allow"


def test_a_rule_without_subjects_covers_every_agent() -> None:
    policy = policy_with_rules({"id": "everyone", "effect": "allow", "operations": ["query.order"]})

    decision = check(
        "{ order(id: 1) { id } }", policy=policy, subject=support_bot(name="x", kind="y", groups=())
    )

    assert decision.decision == "allow"


@pytest.mark.parametrize(
    ("now", "allowed"),
    [
        (datetime(2025, 1, 6, 6, 59, tzinfo=UTC), False),  # Monday 07:59 in Berlin (UTC+1)
        (datetime(2025, 1, 6, 7, 0, tzinfo=UTC), True),  # 08:00 Berlin: the window opens
        (datetime(2025, 1, 6, 17, 0, tzinfo=UTC), False),  # 18:00 Berlin: the window has closed
        (datetime(2025, 7, 7, 15, 30, tzinfo=UTC), True),  # summer time: 17:30 Berlin
        (datetime(2025, 7, 7, 16, 30, tzinfo=UTC), False),  # 18:30 Berlin
        (datetime(2025, 1, 4, 10, 0, tzinfo=UTC), False),  # a Saturday
    ],
)
def test_office_hours_are_evaluated_in_the_rule_time_zone_and_days(now: datetime, allowed: bool) -> None:
    decision = check(ORDERS, request=office_request(now=now))

    assert decision.decision == ("allow" if allowed else "deny")
    if not allowed:
        assert [(r.code, r.rule) for r in decision.reasons] == [(CONDITION_NOT_MET, "support-reads-orders")]


def test_an_overnight_window_wraps_past_midnight() -> None:
    night = {"hours": {"from": "22:00", "to": "06:00", "tz": "UTC"}}
    policy = policy_with_rules(allow(when=night))

    at = [
        check(ORDERS, policy=policy, request=office_request(now=datetime(2025, 1, 6, h, tzinfo=UTC))).decision
        for h in (23, 3, 12)
    ]

    assert at == ["allow", "allow", "deny"]


@pytest.mark.parametrize(
    ("ip", "allowed"),
    [("10.200.0.1", True), ("192.168.1.1", False), ("::ffff:10.0.0.7", True), ("not-an-ip", False)],
)
def test_source_ips_must_fall_in_a_listed_network(ip: str, allowed: bool) -> None:
    decision = check(ORDERS, request=office_request(ip=ip))

    assert decision.decision == ("allow" if allowed else "deny")


@pytest.mark.parametrize(
    ("expression", "allowed"),
    [
        ("args.first <= 50", True),
        ("args.first > 50", False),
        ('agent.name == "support-bot" && "support" in agent.groups', True),
        ('agent.attributes.team == "billing"', False),
        ('claims.scope == "orders:read"', True),
        ('context.ticket.startsWith("SUP-")', True),
        ('request.ip == "10.1.2.3"', True),
        ("request.time.getHours() == 9", True),
        ("args.missing > 1", False),  # an evaluation error means the condition is not met
        ("args.first", False),  # a number only at the check (a constant one is refused at load): not met
    ],
)
def test_cel_conditions_see_args_agent_claims_request_and_context(expression: str, allowed: bool) -> None:
    policy = policy_with_rules(allow(when={"expression": expression}))
    subject = support_bot(claims={"scope": "orders:read"})
    request = office_request(context={"ticket": "SUP-42"})

    decision = check(ORDERS, policy=policy, subject=subject, request=request)

    assert decision.decision == ("allow" if allowed else "deny")
    if not allowed:
        assert codes(decision) == [CONDITION_NOT_MET]


def test_cel_conditions_are_evaluated_per_root_field_arguments() -> None:
    policy = policy_with_rules(allow(when={"expression": "args.first <= 10"}))

    decision = check(
        "{ small: orders(first: 5) { totalCount } big: orders(first: 50) { totalCount } }", policy=policy
    )

    assert [(r.code, r.path) for r in decision.reasons] == [(CONDITION_NOT_MET, ("big",))]


@pytest.mark.parametrize(
    "when",
    [
        {"hours": {"from": "08:00", "to": "18:00", "tz": "UTC"}},
        {"source_ips": ["10.0.0.0/8"]},
        {"expression": 'agent.attributes.team == "support"'},
        {"expression": "args.first <= 10"},
    ],
)
def test_a_decision_a_rule_condition_took_part_in_is_conditional_whatever_it_decided(when: dict) -> None:
    policy = policy_with_rules(allow(when=when))

    decisions = [check(ORDERS, policy=policy, request=office_request(ip=ip)) for ip in ("10.1.2.3", "192.0.2.1")]

    assert all(decision.conditional for decision in decisions)


def test_a_decision_only_unconditional_rules_took_part_in_is_not_conditional() -> None:
    night = {"hours": {"from": "22:00", "to": "06:00", "tz": "UTC"}}
    policy = policy_with_rules(allow(), allow("nightly-mutations", ("mutation.*",), when=night))

    allowed = check(ORDERS, policy=policy)
    denied = check("{ orders(first: 5) { edges { node { id } } } __schema { types { name } } }", policy=policy)

    assert (allowed.decision, allowed.conditional) == ("allow", False)
    assert (denied.decision, denied.conditional) == ("deny", False)


def test_fields_deny_reports_every_forbidden_field_with_its_path_through_fragments_and_interfaces() -> None:
    query = """
      query { node(id: 1) { ... on Customer { ssn } } customer(id: 2) { ...Secret } }
      fragment Secret on Customer { name cardNumber ssn }
    """

    decision = check(query)

    assert decision.decision == "deny"
    assert [(r.code, r.path) for r in decision.reasons] == [
        (FORBIDDEN_FIELD, ("node", "ssn")),
        (FORBIDDEN_FIELD, ("customer", "cardNumber")),
        (FORBIDDEN_FIELD, ("customer", "ssn")),
    ]
    assert {r.rule for r in decision.reasons} == {"support-reads-orders"}


def test_a_field_deny_on_a_concrete_type_catches_it_through_its_interface() -> None:
    decision = check("{ person(id: 1) { name ssn } }")

    assert [(r.code, r.path) for r in decision.reasons] == [(FORBIDDEN_FIELD, ("person", "ssn"))]


def test_a_deny_rule_with_fields_denies_only_those_fields_everywhere() -> None:
    policy = policy_with_rules(
        allow(),
        {"id": "no-emails", "effect": "deny", "operations": ["*"], "fields": {"deny": ["*.email"]}},
    )

    assert check("{ customer(id: 1) { name } }", policy=policy).decision == "allow"
    decision = check("{ customer(id: 1) { email } }", policy=policy)
    assert [(r.code, r.rule) for r in decision.reasons] == [(FORBIDDEN_FIELD, "no-emails")]


def test_forbidden_field_hint_suggests_a_query_that_passes() -> None:
    decision = check("{ customer(id: 1) { name ssn orders(first: 2) { totalCount } } }")

    [hint] = decision.hints
    assert hint["kind"] == "suggested_query"
    assert hint["removed_paths"] == [["customer", "ssn"]]
    assert check(hint["query"]).decision == "allow"


def test_depth_limit_hint_suggests_a_query_within_the_limit() -> None:
    query = """
      { customer(id: 1) { name orders(first: 2) {
          edges { node { id customer { orders(first: 1) { totalCount } } } } } } }
    """

    decision = check(query)

    assert codes(decision) == [DEPTH_LIMIT]
    [hint] = decision.hints
    assert check(hint["query"]).decision == "allow"


def test_no_hint_when_nothing_would_remain() -> None:
    decision = check("{ customer(id: 1) { ssn } }")

    assert codes(decision) == [FORBIDDEN_FIELD]
    assert decision.hints == []


def test_introspection_is_refused_however_it_is_reached() -> None:
    query = """
      query __schema { ...I }
      fragment I on Query { s: __schema { queryType { name } } t: __type(name: "Order") { name } }
    """

    decision = check(query)

    assert [(r.code, r.path) for r in decision.reasons] == [
        (INTROSPECTION_DISABLED, ("s",)),
        (INTROSPECTION_DISABLED, ("t",)),
    ]


def test_introspection_can_be_allowed_by_the_defaults() -> None:
    policy = policy_with_rules(allow(), defaults={"introspection": "allow"})

    assert check("{ __schema { queryType { name } } }", policy=policy).decision == "allow"


def test_typename_alone_needs_no_rule() -> None:
    assert check("{ __typename }", policy=policy_with_rules()).decision == "allow"


def test_limits_are_the_strictest_among_admitting_rules_through_fragments() -> None:
    policy = policy_with_rules(
        allow("wide", ("query.order",), limits={"max_depth": 10, "max_cost": 100}),
        allow("narrow", ("query.customer",), limits={"max_depth": 2}),
    )
    query = "{ order(id: 1) { ...Deep } customer(id: 1) { id } } fragment Deep on Order { customer { name } }"

    decision = check(query, policy=policy)

    assert [(r.code, r.rule, r.limit, r.actual) for r in decision.reasons] == [(DEPTH_LIMIT, "narrow", 2, 3)]


def test_dimensions_no_admitting_rule_sets_fall_back_to_the_defaults() -> None:
    policy = policy_with_rules(allow(limits={"max_depth": 10}))
    query = "{ " + " ".join(f"a{i}: order(id: {i}) {{ id }}" for i in range(16)) + " }"

    decision = check(query, policy=policy)

    assert [(r.code, r.rule, r.limit, r.actual) for r in decision.reasons] == [
        ("ALIAS_LIMIT", None, 15, 16),
        ("ROOT_FIELD_LIMIT", None, 5, 16),
    ]


def test_a_rule_may_set_a_limit_looser_than_the_default_but_not_than_the_cap() -> None:
    policy = policy_with_rules(allow(limits={"max_root_fields": 20}))
    query = "{ " + " ".join(f"a{i}: order(id: {i}) {{ id }}" for i in range(10)) + " }"

    assert codes(check(query, policy=policy)) == []
    capped = check(query, policy=policy, caps=Limits(max_root_fields=8))
    assert [(r.code, r.limit, r.actual) for r in capped.reasons] == [("ROOT_FIELD_LIMIT", 8, 10)]


def test_every_exceeded_limit_is_reported_with_limit_and_actual() -> None:
    policy = policy_with_rules(
        allow(
            limits={
                "max_depth": 1,
                "max_aliases": 0,
                "max_root_fields": 1,
                "max_tokens": 10,
                "max_directives": 0,
                "max_cost": 1,
            }
        )
    )
    query = "{ a: orders(first: 9) @include(if: true) { edges { node { id } } } b: order(id: 1) { id } }"

    decision = check(query, policy=policy)

    assert [(r.code, r.limit) for r in decision.reasons] == [
        ("DEPTH_LIMIT", 1),
        ("ALIAS_LIMIT", 0),
        ("ROOT_FIELD_LIMIT", 1),
        ("TOKEN_LIMIT", 10),
        ("DIRECTIVE_LIMIT", 0),
        ("COST_LIMIT", 1),
    ]
    assert all(r.actual is not None and r.actual > r.limit for r in decision.reasons)  # type: ignore[operator]


def test_cost_limit_reports_the_computed_cost() -> None:
    policy = policy_with_rules(allow(limits={"max_cost": 15}))

    decision = check("{ orders(first: 5) { edges { node { id customer { name } } } } }", policy=policy)

    assert [(r.code, r.limit, r.actual) for r in decision.reasons] == [("COST_LIMIT", 15, 16)]


@pytest.mark.parametrize(
    ("query", "operation_name", "code"),
    [
        ("{ orders {", None, "GRAPHQL_PARSE_FAILED"),
        ("{ nothing }", None, "GRAPHQL_VALIDATION_FAILED"),
        ("query A { __typename }", "B", "OPERATION_NOT_FOUND"),
        ("{ __typename }" + " " * 70_000, None, "DOCUMENT_TOO_LARGE"),
    ],
)
def test_a_failed_analysis_becomes_a_deny_with_its_reason(
    query: str, operation_name: str | None, code: str
) -> None:
    decision = check(query, operation_name=operation_name)

    assert decision.decision == "deny"
    assert codes(decision) == [code]


def test_token_cap_during_parsing_is_a_token_limit_deny() -> None:
    decision = check("{ " + "__typename " * 50 + "}", limits=AnalysisLimits(caps=Limits(max_tokens=20)))

    assert [(r.code, r.limit) for r in decision.reasons] == [("TOKEN_LIMIT", 20)]


@pytest.mark.parametrize("code", [UNKNOWN_SCHEMA, NO_ACTIVE_POLICY])
def test_checks_without_schema_or_policy_are_denied_through_the_engine(code: str) -> None:
    decision = deny_without_policy(code, "nothing to decide with")

    assert decision.as_dict()["reasons"] == [
        {
            "code": code,
            "message": "nothing to decide with",
            "rule": None,
            "path": None,
            "limit": None,
            "actual": None,
            "hint": decision.reasons[0].hint,
        }
    ]
    assert decision.reasons[0].hint.endswith(".")
    assert decision.decision == "deny"


def test_rate_limits_of_admitting_rules_are_available_to_the_caller() -> None:
    policy = example_policy()

    decision = check(ORDERS, policy=policy)

    [rule_id] = decision.admitting_rules
    assert [
        (limit.kind, limit.limit, limit.per, limit.burst) for limit in policy.rate_limits_of(rule_id)
    ] == [
        ("requests", 60, "minute", 10),
        ("cost", 1000, "minute", 1000),
    ]


def test_decisions_are_json_ready() -> None:
    decision = check("{ customer(id: 1) { ssn } }")

    payload = decision.as_dict()

    assert payload["reasons"][0]["path"] == ["customer", "ssn"]
    assert payload["decision"] == "deny"


def test_a_naive_time_is_taken_as_utc() -> None:
    request = RequestContext(ip="10.1.2.3", now=datetime(2025, 1, 6, 9, 0), context={})

    assert (
        decide(
            example_policy(), analysis_of(ORDERS), subject=support_bot(), request=request, caps=Limits()
        ).decision
        == "allow"
    )


def test_the_decision_cost_does_not_grow_with_unrelated_rules_and_agents() -> None:
    unrelated = [
        {
            "id": f"agent-{i}",
            "effect": "allow",
            "subjects": {"agents": [f"bot-{i}"]},
            "operations": [f"query.order{i % 7}*"],
        }
        for i in range(10_000)
    ]
    policy = policy_with_rules(allow("mine", ("query.orders",)), *unrelated)

    assert len(policy.candidate_rules("support-bot", "ai", ["support"])) == 1
    assert check(ORDERS, policy=policy).admitting_rules == ["mine"]


def test_field_denies_are_memoised_per_policy_and_stay_correct_when_the_memo_is_full(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib

    policy_module = importlib.import_module("policies.engine.policy")

    policy = policy_with_rules(
        allow(),
        {"id": "no-emails", "effect": "deny", "operations": ["*"], "fields": {"deny": ["*.email"]}},
    )
    with_email, without = "{ customer(id: 1) { name email } }", "{ customer(id: 1) { name } }"
    first = check(with_email, policy=policy)
    assert [(r.code, r.path) for r in first.reasons] == [(FORBIDDEN_FIELD, ("customer", "email"))]
    memo = dict(policy._denied_coordinates)
    assert check(with_email, policy=policy).reasons == first.reasons
    assert policy._denied_coordinates == memo  # answered from the memo
    monkeypatch.setattr(policy_module, "_DENIED_COORDINATES_MEMO", 1)
    only_email = check("{ customer(id: 2) { email } }", policy=policy)
    assert [(r.code, r.path) for r in only_email.reasons] == [(FORBIDDEN_FIELD, ("customer", "email"))]
    assert len(policy._denied_coordinates) == 1  # full: emptied before the new entry
    for _ in range(2):
        assert check(without, policy=policy).decision == "allow"
        assert check(with_email, policy=policy).reasons == first.reasons


def test_a_suggested_query_keeps_exactly_the_fields_within_the_measured_depth() -> None:
    # One definition of depth: the pruner cuts where the analysis measures (the path's length).
    policy = policy_with_rules(allow(limits={"max_depth": 3}))

    decision = check("{ orders(first: 1) { totalCount edges { cursor node { id } } } }", policy=policy)

    [hint] = decision.hints
    suggested = analysis_of(hint["query"])
    assert suggested.metrics is not None and suggested.metrics.depth == 3
    assert hint["removed_paths"] == [["orders", "edges", "node", "id"], ["orders", "edges", "node"]]
