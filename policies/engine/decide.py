"""The decision: an analysed document, a compiled policy and who is asking -> allow, deny or
pending_approval, with every violation found."""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import cel

from . import cel_bounds, messages, reasons, repair
from .analysis import Analysis
from .limits import DIMENSIONS, Limits
from .measure import RootField
from .policy import CompiledPolicy, Rule
from .reasons import Reason
from .values import plain_number

ALLOW = "allow"
DENY = "deny"
PENDING_APPROVAL = "pending_approval"

# Operations named in a NO_MATCHING_RULE hint entry (the sentence names fewer).
MAX_CALLABLE_SHOWN = 20


@dataclass(frozen=True, slots=True)
class Subject:
    """The agent asking."""

    name: str
    kind: str
    groups: Sequence[str] = ()
    attributes: Mapping[str, Any] = field(default_factory=dict)
    claims: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RequestContext:
    """Where and when the check happens; `context` is what the agent sent (untrusted)."""

    ip: str
    now: datetime  # timezone-aware; a naive time is taken as UTC
    context: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    decision: str  # "allow" | "deny" | "pending_approval"
    reasons: list[Reason]
    metrics: dict[str, int | float]  # empty when the document could not be measured
    operation: dict[str, Any] | None  # {"name", "type", "root_fields"}
    # Ids of the rules that admitted root fields: the caller applies their rate limits.
    admitting_rules: list[str] = field(default_factory=list)
    deciding_rule: str | None = None
    hints: list[dict[str, Any]] = field(default_factory=list)
    # A rule condition (hours, source_ips, expression) was evaluated: the same document may be
    # decided otherwise at another time, from another address, with other context, attributes or
    # claims. Otherwise the decision follows from the policy, the analysis and the subject's name,
    # kind and groups alone, and the caller may reuse it for them.
    conditional: bool = False
    # In a check on behalf of a person (delegation.py): the rules that admitted the person, whose
    # rate limits charge the person as `admitting_rules`' charge the agent.
    delegator_rules: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "operation": self.operation,
            "reasons": [reason.as_dict() for reason in self.reasons],
            "metrics": self.metrics,
            "admitting_rules": self.admitting_rules,
            "deciding_rule": self.deciding_rule,
            "hints": self.hints,
        }


def deny_without_policy(code: str, message: str, schemas: Sequence[str] | None = None) -> Decision:
    """A deny for a check that found no schema (UNKNOWN_SCHEMA, naming `schemas`, those the caller
    may check) or no policy (NO_ACTIVE_POLICY)."""
    return Decision(DENY, [reasons.without_policy(code, message, schemas)], {}, None)


def deny_pending_schema(schema: str, enforced: int, pending: int) -> Decision:
    """A deny for a document that only a schema version awaiting review accepts (SCHEMA_VERSION_PENDING)."""
    return Decision(DENY, [reasons.schema_version_pending(schema, enforced, pending)], {}, None)


def decide(
    policy: CompiledPolicy,
    analysis: Analysis,
    *,
    subject: Subject,
    request: RequestContext,
    caps: Limits,
) -> Decision:
    """The decision for `analysis` under `policy`; never raises for any analysis or context.

    A deny is explained: each reason's hint is made specific, and `hints` carry a suggested query
    that passes where a rewrite cures the denial (repair.py). Nothing of that runs for an allow."""
    decision, evaluation, effective = _judge(policy, analysis, subject, request, caps)
    if decision.decision != DENY or evaluation is None:
        return decision

    def judge(retry: Analysis) -> repair.Findings:
        return _findings(*_judge(policy, retry, subject, request, caps))

    explained, suggestions = repair.explain(analysis, _findings(decision, evaluation, effective), judge)
    return dataclasses.replace(decision, reasons=explained, hints=[*suggestions, *evaluation.hints])


# A decision with what judging found on the way, for explaining a deny (a plain tuple: one is made
# per check); the evaluation is None when the document could not be judged on its merits.
_Judgement = tuple[Decision, "_Evaluation | None", Mapping[str, tuple[int, str | None]]]


def _findings(
    decision: Decision, evaluation: _Evaluation | None, effective: Mapping[str, tuple[int, str | None]]
) -> repair.Findings:
    return repair.Findings(
        allowed=decision.decision == ALLOW,
        violations=tuple(decision.reasons) if decision.decision == DENY else (),
        limits=effective,
        field_denials=evaluation.field_denials if evaluation is not None else {},
    )


def _judge(
    policy: CompiledPolicy,
    analysis: Analysis,
    subject: Subject,
    request: RequestContext,
    caps: Limits,
) -> _Judgement:
    metrics = analysis.metrics.as_dict() if analysis.metrics else {}
    if not analysis.ok:
        failed = Decision(DENY, [*analysis.failure, *_measured_violations(policy, analysis, caps)], metrics,
                          _failed_operation(analysis))
        return failed, None, {}
    operation = {
        "name": analysis.operation_name,
        "type": analysis.operation_type,
        "root_fields": [root.name for root in analysis.root_fields],
    }
    evaluation = _Evaluation(policy, subject, request, analysis.request.bundle.operations)
    for root in analysis.root_fields:
        if root.governed:
            evaluation.judge(root)
    violations = evaluation.violations
    # Unevaluated conditions fail closed: a deny rule that could not be evaluated must not let
    # another rule's allow through.
    violations.extend(evaluation.refusals.values())
    if analysis.introspection_paths and not policy.introspection_allowed:
        violations.extend(reasons.introspection_disabled(path) for path in analysis.introspection_paths)
    assert analysis.metrics is not None
    effective = _effective_limits(policy, evaluation.admitting.values(), caps)
    for dimension in DIMENSIONS:
        if dimension in effective:
            limit, rule_id = effective[dimension]
            actual = analysis.metrics.for_dimension(dimension)
            if actual > limit:
                violations.append(reasons.limit_exceeded(dimension, limit, plain_number(actual), rule_id))
    admitting = list(evaluation.admitting)
    conditional = evaluation.conditional
    if violations:
        deciding = next((reason.rule for reason in violations if reason.rule), None)
        decision = Decision(DENY, violations, metrics, operation, admitting, deciding, conditional=conditional)
    elif evaluation.approvals:
        decision = Decision(PENDING_APPROVAL, evaluation.approvals, metrics, operation, admitting,
                            evaluation.approvals[0].rule, conditional=conditional)
    else:
        deciding = admitting[0] if admitting else None
        decision = Decision(ALLOW, [], metrics, operation, admitting, deciding, conditional=conditional)
    return decision, evaluation, effective


def _measured_violations(policy: CompiledPolicy, analysis: Analysis, caps: Limits) -> list[Reason]:
    """The limits a document that cannot be decided on its merits exceeds as well (the policy's
    defaults and the caps: no rule admitted it), so the agent learns every problem at once."""
    if analysis.metrics is None:
        return []
    reported = {reason.code for reason in analysis.failure}
    violations = []
    effective = _effective_limits(policy, (), caps)
    for dimension in DIMENSIONS:
        if dimension not in effective:
            continue
        limit, rule_id = effective[dimension]
        actual = analysis.metrics.for_dimension(dimension)
        reason = reasons.limit_exceeded(dimension, limit, plain_number(actual), rule_id)
        if actual > limit and reason.code not in reported:
            violations.append(reason)
    return violations


def _failed_operation(analysis: Analysis) -> dict[str, Any] | None:
    """What is known of the operation of a document that failed (its type, for the audit trail)."""
    if analysis.operation_type is None:
        return None
    return {"name": analysis.operation_name, "type": analysis.operation_type, "root_fields": []}


def _effective_limits(
    policy: CompiledPolicy, admitting: Iterable[Rule], caps: Limits
) -> dict[str, tuple[int, str | None]]:
    """Per dimension: the strictest admitting rule's limit (and its id), else the default,
    bounded by the caps."""
    effective: dict[str, tuple[int, str | None]] = {}
    for rule in admitting:
        for dimension, limit in rule.limits.items():
            current = effective.get(dimension)
            if current is None or limit < current[0]:
                effective[dimension] = (limit, rule.id)
    for dimension, default in policy.default_limits.items():
        effective.setdefault(dimension, (default, None))
    for dimension, cap in caps.items():
        current = effective.get(dimension)
        if current is None or cap < current[0]:
            effective[dimension] = (cap, None)
    return effective


class _Evaluation:
    """Matches rules against the root fields of one check, remembering what it found."""

    def __init__(
        self, policy: CompiledPolicy, subject: Subject, request: RequestContext, operations: Sequence[str]
    ) -> None:
        self.policy = policy
        self.operations = operations  # the schema's, for what a denied agent may call instead
        self.candidates = policy.candidate_rules(subject.name, subject.kind, tuple(subject.groups))
        self.request = request
        now = request.now if request.now.tzinfo is not None else request.now.replace(tzinfo=UTC)
        self.now = now
        self.activation = {
            "agent": {
                "name": subject.name,
                "kind": subject.kind,
                "groups": list(subject.groups),
                "attributes": dict(subject.attributes),
            },
            "claims": dict(subject.claims),
            "request": {"ip": request.ip, "time": now},
            "context": dict(request.context) if isinstance(request.context, Mapping) else {},
        }
        self.cel_context: cel.Context | None = None
        # Per rule index: hours, source_ips, and the expression when it does not read `args`.
        self.static_conditions: dict[int, bool] = {}
        self.conditional = False  # see Decision.conditional
        self.violations: list[Reason] = []
        self.approvals: list[Reason] = []
        self.admitting: dict[str, Rule] = {}
        self.field_denials: dict[str, list[Rule]] = {}  # response key -> rules with fields.deny
        # Rule id -> why its condition could not be evaluated (inputs over the CEL caps).
        self.refusals: dict[str, Reason] = {}
        # Entries for the answer's `hints` that explain NO_MATCHING_RULE and CONDITION_NOT_MET.
        self.hints: list[dict[str, Any]] = []
        self.failed_clauses: dict[int, str | None] = {}  # per rule whose expression reads no `args`

    def judge(self, root: RootField) -> None:
        covering = self.policy.rules_for_operation(root.operation)
        admitted = denied = False
        unmet: Rule | None = None
        for rule in self.candidates:
            if rule.index not in covering:
                continue
            if not self._conditions_hold(rule, root.arguments):
                if unmet is None and rule.effect != "deny":
                    unmet = rule
                continue
            if rule.denied_fields:
                self._forbid_fields(rule, root)
            if rule.denies_whole_operation:
                self.violations.append(reasons.denied_by_rule(root.operation, root.path, rule.id))
                denied = True
            elif rule.effect != "deny":
                admitted = True
                self.admitting.setdefault(rule.id, rule)
                if rule.effect == "require_approval":
                    self.approvals.append(reasons.approval_required(root.operation, root.path, rule.id))
        if not admitted and not denied:
            self.violations.append(
                self._condition_not_met(root, unmet) if unmet is not None else self._no_matching_rule(root)
            )

    def _no_matching_rule(self, root: RootField) -> Reason:
        callable_operations = self.policy.callable_operations(self.candidates, self.operations)
        if not any(hint["kind"] == "callable_operations" for hint in self.hints):
            self.hints.append({
                "kind": "callable_operations",
                "operations": list(callable_operations[:MAX_CALLABLE_SHOWN]),
                "count": len(callable_operations),
                "contact": self.policy.contact,
            })
        return reasons.no_matching_rule(
            root.operation,
            root.path,
            callable_operations=callable_operations[: messages.HINT_NAMES_SHOWN],
            callable_count=len(callable_operations),
            contact=self.policy.contact,
        )

    def _condition_not_met(self, root: RootField, rule: Rule) -> Reason:
        """CONDITION_NOT_MET, saying which of the rule's conditions failed. The expression is named
        only when hours and addresses held (so it is what failed: it is not evaluated again)."""
        phrases: list[tuple[str, str]] = []
        failed: list[dict[str, Any]] = []
        if rule.hours is not None and not self._within_hours(rule):
            opens = rule.hours.next_opening(self.now)
            opens_at = opens.isoformat() if opens is not None else None
            phrases.append(messages.hours_phrase(
                rule.hours.start.strftime("%H:%M"), rule.hours.end.strftime("%H:%M"), sorted(rule.hours.days),
                str(rule.hours.tz), opens_at,
            ))
            failed.append({"condition": "hours", "next_window_opens_at": opens_at})
        if rule.source_networks is not None and not self._from_networks(rule):
            networks = [str(network) for network in rule.source_networks]
            phrases.append(messages.networks_phrase(networks))
            failed.append({"condition": "source_ips", "networks": networks[:MAX_CALLABLE_SHOWN]})
        if rule.expression is not None and not failed:
            clause = self._failed_clause(rule, root.arguments if rule.expression_reads_args else None)
            phrases.append(messages.clause_phrase(clause))
            failed.append({"condition": "expression", "clause": messages.shown_clause(clause) if clause else None})
        self.hints.append({"kind": "condition_not_met", "rule": rule.id, "path": list(root.path),
                           "conditions": failed})
        return reasons.condition_not_met(root.operation, root.path, rule.id, phrases)

    def _failed_clause(self, rule: Rule, arguments: Mapping[str, Any] | None) -> str | None:
        """The first top-level `&&` clause of the rule's expression that does not hold, evaluated as
        the whole is (same inputs and bounds, clauses in order until one fails: at most the work of
        one more evaluation, once per check unless it reads `args`); the whole expression when it is
        no conjunction; None when its inputs are over the CEL caps (it was not evaluated)."""
        if arguments is None and rule.index in self.failed_clauses:
            return self.failed_clauses[rule.index]
        clause = None
        if self._input_excess(arguments) is None:
            clauses = self.policy.expression_clauses(rule)
            clause = next((text for text, program in clauses if not self._holds(program, arguments)), None)
            clause = clause or rule.expression_text
        if arguments is None:
            self.failed_clauses[rule.index] = clause
        return clause

    def _forbid_fields(self, rule: Rule, root: RootField) -> None:
        self.field_denials.setdefault(root.response_key, []).append(rule)
        matched = self.policy.denied_coordinates(rule, root.coordinates.keys())
        if not matched:
            return
        reported: set[tuple[str, ...]] = set()
        for coordinate in matched:
            path = root.coordinates[coordinate]
            if path not in reported:
                reported.add(path)
                self.violations.append(reasons.forbidden_field(coordinate, path, rule.id))

    def _conditions_hold(self, rule: Rule, arguments: Mapping[str, Any]) -> bool:
        if not rule.has_conditions:
            return True
        self.conditional = True
        static = self.static_conditions.get(rule.index)
        if static is None:
            static = self._time_and_place_hold(rule) and (
                rule.expression is None
                or rule.expression_reads_args
                or self._expression_holds(rule, None)
            )
            self.static_conditions[rule.index] = static
        if not static:
            return False
        if rule.expression is None or not rule.expression_reads_args:
            return True
        return self._expression_holds(rule, arguments)

    def _expression_holds(self, rule: Rule, arguments: Mapping[str, Any] | None) -> bool:
        """True only if the rule's expression evaluates to true; any evaluation error means not
        met, and inputs over the CEL caps are not evaluated at all (the check is then denied)."""
        assert rule.expression is not None
        excess = self._input_excess(arguments)
        if excess is not None:
            self.refusals.setdefault(
                rule.id, reasons.expression_input_too_large(rule.id, excess.cap, excess.limit, excess.actual)
            )
            return False
        return self._holds(rule.expression, arguments)

    def _input_excess(self, arguments: Mapping[str, Any] | None) -> cel_bounds.InputExcess | None:
        size = self.static_input_size
        if arguments is not None:
            size = cel_bounds.input_size({"args": dict(arguments)}, size)
        return size.excess()

    def _holds(self, program: cel.Program, arguments: Mapping[str, Any] | None) -> bool:
        """`program` evaluated over this check's inputs (within the caps: see _input_excess) is true."""
        try:
            if self.cel_context is None:
                # Converted to CEL values once per check; only `args` changes per root field.
                self.cel_context = cel.Context(self.cel_inputs)
            if arguments is not None:
                self.cel_context.add_variable("args", dict(arguments))
            return program.execute(self.cel_context) is True
        except Exception:
            return False

    @functools.cached_property
    def cel_inputs(self) -> dict[str, Any]:
        """The variables the policy's expressions read, but `args` (which changes per root field)."""
        return {name: value for name, value in self.activation.items() if name in self.policy.cel_variables}

    @functools.cached_property
    def static_input_size(self) -> cel_bounds.InputSize:
        return cel_bounds.input_size(self.cel_inputs)

    @functools.cached_property
    def client_ip(self) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
        return _client_address(self.request.ip)

    def _time_and_place_hold(self, rule: Rule) -> bool:
        return (rule.hours is None or self._within_hours(rule)) and (
            rule.source_networks is None or self._from_networks(rule)
        )

    def _within_hours(self, rule: Rule) -> bool:
        assert rule.hours is not None
        return rule.hours.contain_instant(self.now)

    def _from_networks(self, rule: Rule) -> bool:
        assert rule.source_networks is not None
        address = self.client_ip
        return address is not None and any(address in network for network in rule.source_networks)


def _client_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address
