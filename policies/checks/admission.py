"""Admit and record: the one step of a check that talks to Redis.

In one round trip (the limiter's script) it confirms a cached identity's auth generation,
charges the decision against its rate limits and cost budgets, and appends the decision record
to the stream; a denial is charged only against the denied-checks ceiling. What the script could
not do (no Redis, a cluster, a refusal that changed the decision) is done apart, so that every
answered check has a durable record.
"""

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings

from agents.identity import Identity
from agents.identity_cache import GENERATION_KEY, current_generation
from gqlgov import metrics
from gqlgov.errors import ApiError
from policies import engine, ratelimit
from policies.checks.caches import ActivePolicy, limit_specs_cache
from policies.checks.limiter import get_limiter
from policies.checks.records import DecisionRecord, appended_to_stream, record_decision, stream_key_for_append
from policies.engine import reasons
from policies.engine.delegation import AGENT_SIDE, DELEGATOR_SIDE


@dataclass(frozen=True)
class Admission:
    """What the limiter made of an otherwise-final decision (`admitted`): the final `decision`,
    the HTTP status and headers, and whether the record is already durable."""

    admitted: engine.Decision
    decision: engine.Decision
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    rate_limit: dict[str, Any] | None = None
    refusal: dict[str, Any] | None = None
    recorded: bool = False  # the admitted decision's record went onto the stream with the charge


def admit_and_record(identity: Identity, decision: engine.Decision, active: ActivePolicy | None,
                     record: DecisionRecord, delegator: Identity | None = None) -> tuple[Admission, DecisionRecord]:
    """The limiter's answer for `decision`, and the record as stored (for the final decision).

    In a check on behalf of a person (`delegator`), the person is charged too, in the same atomic
    step: their rules' limits (`decision.delegator_rules`) and the defaults, under their own name.

    Raises RATE_LIMITER_UNAVAILABLE (503) when Redis is down and the limiter fails closed, and
    ratelimit.GuardFailed, having charged and recorded nothing, when the identity came from the
    cache unconfirmed and is stale.
    """
    admission = _throttle(identity, decision, active, record, delegator)
    if not admission.recorded:
        if admission.decision is not admission.admitted:
            record = record.with_decision(admission.decision)
        record_decision(record)
    return admission, record


def _policy_entries(rate_limits: tuple[engine.RateLimit, ...]) -> list[dict[str, Any]]:
    return [{limit.kind: limit.limit, "per": limit.per, "burst": limit.burst} for limit in rate_limits]


def _limit_specs(active: ActivePolicy, rule_ids: list[str], agent: str, cost: int,
                 name_prefix: str = "") -> list[ratelimit.LimitSpec]:
    key = (active.policy_version_id, tuple(rule_ids), agent, cost, name_prefix)
    specs = limit_specs_cache().get_or_create(
        key, lambda: tuple(_build_limit_specs(active, rule_ids, agent, cost, name_prefix)))
    return list(specs)


def _build_limit_specs(
    active: ActivePolicy, rule_ids: list[str], agent: str, cost: int, name_prefix: str
) -> list[ratelimit.LimitSpec]:
    specs = ratelimit.specs_from_policy(
        _policy_entries(active.policy.default_rate_limits), agent=agent, scope="default", cost=cost,
        name_prefix=name_prefix,
    )
    for rule_id in rule_ids:
        specs.extend(ratelimit.specs_from_policy(
            _policy_entries(active.policy.rate_limits_of(rule_id)), agent=agent, scope=f"rule:{rule_id}", cost=cost,
            name_prefix=name_prefix,
        ))
    return specs


def limit_states(active: ActivePolicy, rule_ids: list[str], agent: str) -> list[dict[str, Any]] | None:
    """The agent's current state of the defaults' and these rules' rate limits and cost budgets
    (remaining units, seconds until one more), read through the limiter without charging anything
    (every spec at weight 0); None when the limiter cannot be read right now."""
    specs = [dataclasses.replace(spec, weight=0) for spec in _build_limit_specs(active, rule_ids, agent, 0, "")]
    if not specs:
        return []
    try:
        outcome = get_limiter().acquire(agent, specs)
    except ratelimit.LimiterUnavailable:
        return None
    if outcome.degraded:
        return None
    return [{"policy": status.policy_name, "kind": status.kind, "limit": status.limit, "per_s": status.period_s,
             "burst": status.burst, "remaining": status.remaining, "reset_after_s": round(status.reset_after_s, 3)}
            for status in outcome.statuses]


def _charged_specs(decision: engine.Decision, active: ActivePolicy | None, agent: str,
                   person: str | None) -> list[ratelimit.LimitSpec]:
    """What this check is charged against: an allow its rules' limits and the defaults, anything
    else the denied-checks ceiling; for the agent and, when it acts for one, the person."""
    if decision.decision == engine.ALLOW and active is not None:
        cost = int((decision.metrics or {}).get("cost") or 0)
        specs = _limit_specs(active, decision.admitting_rules, agent, cost)
        if person is not None:
            specs += _limit_specs(active, decision.delegator_rules, person, cost, ratelimit.DELEGATOR_PREFIX)
        return specs
    per_minute = settings.GQLGOV_DENIED_CHECKS_PER_MINUTE
    specs = [ratelimit.denied_checks_spec(agent, per_minute)]
    if person is not None:
        specs.append(ratelimit.denied_checks_spec(person, per_minute, ratelimit.DELEGATOR_PREFIX))
    return specs


def _piggyback(identity: Identity, record: DecisionRecord) -> ratelimit.Piggyback | None:
    """The rest of the check's Redis work, for the limiter's one round trip: confirm a cached
    identity's generation, append the record.

    On Redis Cluster none: the generation key and the stream are in other slots than the agent's
    limiter keys. The generation is then confirmed here, before anything is charged (GuardFailed),
    and `record_decision` appends the record.
    """
    generation = identity.unconfirmed_generation
    if settings.REDIS_CLUSTER:
        if generation is not None:
            _confirm_generation(generation)
        return None
    stream_key = stream_key_for_append()
    if generation is None and stream_key is None:
        return None
    return ratelimit.Piggyback(
        guard=(GENERATION_KEY, generation) if generation is not None else None,
        append=(stream_key, record.to_json()) if stream_key is not None else None,
    )


def _acquire(identity: Identity, specs: list[ratelimit.LimitSpec], piggyback: ratelimit.Piggyback | None,
             person: str | None) -> ratelimit.LimitOutcome:
    try:
        outcome = get_limiter().acquire(identity.principal.name, specs, piggyback=piggyback, delegator=person)
    except ratelimit.LimiterUnavailable as exc:
        metrics.observe_limiter(None)
        raise ApiError(
            "RATE_LIMITER_UNAVAILABLE",
            "The rate limiter is unavailable; retry shortly.",
            status=503,
            details={"retry_after_s": exc.retry_after_s},
            headers={"Retry-After": ratelimit.retry_after_value(exc.retry_after_s)},
        ) from exc
    if piggyback is not None and piggyback.guard is not None and (outcome.never_admissible or outcome.degraded):
        # The limiter answered without its script (no Redis work, or Redis away): confirm apart.
        _confirm_generation(piggyback.guard[1])
    metrics.observe_limiter(outcome)
    if outcome.appended:
        appended_to_stream()
    return outcome


def _confirm_generation(generation: str) -> None:
    """Raises GuardFailed unless the cached identity's generation is still current (also when Redis cannot tell)."""
    if current_generation() != generation:
        raise ratelimit.GuardFailed()


def _throttle(identity: Identity, decision: engine.Decision, active: ActivePolicy | None,
              record: DecisionRecord, delegator: Identity | None) -> Admission:
    """Charges an allow against its limits; a denial only against the denied-checks ceiling."""
    agent = identity.principal.name
    person = delegator.principal.name if delegator is not None else None
    if person == agent:  # a person checking for themselves: charged once
        person = None
    delegated = delegator is not None
    piggyback = _piggyback(identity, record)
    outcome = _acquire(identity, _charged_specs(decision, active, agent, person), piggyback, person)
    if outcome.allowed and decision.decision != engine.ALLOW:
        return Admission(decision, decision, recorded=outcome.appended)
    headers = ratelimit.ratelimit_headers(outcome)
    if outcome.never_admissible and outcome.refused is not None:
        reason = _on_side(_budget_capacity_reason(outcome.refused), outcome.refused.policy_name, delegated)
        return Admission(decision, _denied(decision, reason), headers=headers)
    if not outcome.allowed and outcome.refused is not None:
        reason, retry = _refusal(outcome, outcome.refused, record.created_at)
        reason = _on_side(reason, outcome.refused.policy_name, delegated)
        headers["Retry-After"] = ratelimit.retry_after_value(outcome.retry_after_s)
        details = {"policy": reason.rule, "limit": reason.limit, "retry_after_s": retry["retry_after_s"]}
        if reason.side is not None:
            details["side"] = reason.side
        refusal = {
            "code": reason.code,
            "message": reason.message,
            "details": {**details, **{key: retry[key] for key in ("retry_at", "remaining", "burst")}},
        }
        return Admission(decision, _denied(decision, reason, retry), status=429, headers=headers, refusal=refusal)
    rate_limit = None
    if outcome.tightest is not None:
        rate_limit = {
            "limit": outcome.tightest.limit,
            "remaining": outcome.tightest.remaining,
            "reset_after_s": round(outcome.tightest.reset_after_s, 3),
            "policy": outcome.tightest.policy_name,
            # `remaining` counts what the burst leaves (it refills at `limit` per period).
            "burst": outcome.tightest.burst,
        }
        if delegated:
            rate_limit["side"] = _side_of(outcome.tightest.policy_name)
    return Admission(decision, decision, headers=headers, rate_limit=rate_limit, recorded=outcome.appended)


def _side_of(policy_name: str) -> str:
    """Whose limit a limit name is, in a check on behalf of a person."""
    return DELEGATOR_SIDE if policy_name.startswith(ratelimit.DELEGATOR_PREFIX) else AGENT_SIDE


def _on_side(reason: engine.Reason, policy_name: str, delegated: bool) -> engine.Reason:
    return reasons.on_side(reason, _side_of(policy_name)) if delegated else reason


def _denied(decision: engine.Decision, reason: engine.Reason, hint: dict[str, Any] | None = None) -> engine.Decision:
    hints = [*decision.hints, hint] if hint is not None else decision.hints
    return dataclasses.replace(decision, decision=engine.DENY, reasons=[*decision.reasons, reason], hints=hints)


# --- Hints on a refusal: when to retry and what is left (worded by the engine's reasons) ---


def _refusal(outcome: ratelimit.LimitOutcome, spec: ratelimit.LimitSpec,
             now: datetime) -> tuple[engine.Reason, dict[str, Any]]:
    """The RATE_LIMITED / COST_BUDGET_EXCEEDED reason and the `retry` entry of the answer's hints."""
    status = outcome.tightest  # the refusing limit's status
    remaining = status.remaining if status is not None else None
    # The instant Retry-After names (whole seconds, rounded up), so both say the same.
    retry_at = (now + timedelta(seconds=int(ratelimit.retry_after_value(outcome.retry_after_s))))
    retry_at_text = retry_at.astimezone(UTC).replace(microsecond=0).isoformat()
    reason = reasons.limit_used_up(
        spec.kind == "cost", spec.policy_name, spec.limit, spec.period_s, outcome.retry_after_s,
        burst=spec.burst, remaining=remaining, weight=spec.weight, retry_at=retry_at_text,
    )
    retry = {"kind": "retry", "code": reason.code, "policy": spec.policy_name,
             "retry_after_s": round(outcome.retry_after_s, 3), "retry_at": retry_at_text,
             "limit": spec.limit, "period_s": spec.period_s, "burst": spec.burst, "remaining": remaining}
    return reason, retry


def _budget_capacity_reason(spec: ratelimit.LimitSpec) -> engine.Reason:
    """A document costlier than a whole budget can never pass: its capacity (the burst) acts as a max_cost."""
    return reasons.limit_exceeded("max_cost", spec.burst, spec.weight, spec.policy_name, budget=True)
