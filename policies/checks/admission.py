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
                     record: DecisionRecord) -> tuple[Admission, DecisionRecord]:
    """The limiter's answer for `decision`, and the record as stored (for the final decision).

    Raises RATE_LIMITER_UNAVAILABLE (503) when Redis is down and the limiter fails closed, and
    ratelimit.GuardFailed, having charged and recorded nothing, when the identity came from the
    cache unconfirmed and is stale.
    """
    admission = _throttle(identity, decision, active, record)
    if not admission.recorded:
        if admission.decision is not admission.admitted:
            record = record.with_decision(admission.decision)
        record_decision(record)
    return admission, record


def _policy_entries(rate_limits: tuple[engine.RateLimit, ...]) -> list[dict[str, Any]]:
    return [{limit.kind: limit.limit, "per": limit.per, "burst": limit.burst} for limit in rate_limits]


def _limit_specs(active: ActivePolicy, decision: engine.Decision, agent: str) -> list[ratelimit.LimitSpec]:
    cost = int((decision.metrics or {}).get("cost") or 0)
    key = (active.policy_version_id, tuple(decision.admitting_rules), agent, cost)
    specs = limit_specs_cache().get_or_create(key, lambda: tuple(_build_limit_specs(active, decision, agent, cost)))
    return list(specs)


def _build_limit_specs(
    active: ActivePolicy, decision: engine.Decision, agent: str, cost: int
) -> list[ratelimit.LimitSpec]:
    specs = ratelimit.specs_from_policy(
        _policy_entries(active.policy.default_rate_limits), agent=agent, scope="default", cost=cost
    )
    for rule_id in decision.admitting_rules:
        specs.extend(ratelimit.specs_from_policy(
            _policy_entries(active.policy.rate_limits_of(rule_id)), agent=agent, scope=f"rule:{rule_id}", cost=cost
        ))
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


def _acquire(identity: Identity, specs: list[ratelimit.LimitSpec],
             piggyback: ratelimit.Piggyback | None) -> ratelimit.LimitOutcome:
    try:
        outcome = get_limiter().acquire(identity.principal.name, specs, piggyback=piggyback)
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
              record: DecisionRecord) -> Admission:
    """Charges an allow against its limits; a denial only against the denied-checks ceiling."""
    agent = identity.principal.name
    piggyback = _piggyback(identity, record)
    if decision.decision == engine.ALLOW and active is not None:
        outcome = _acquire(identity, _limit_specs(active, decision, agent), piggyback)
    else:
        spec = ratelimit.denied_checks_spec(agent, settings.GQLGOV_DENIED_CHECKS_PER_MINUTE)
        outcome = _acquire(identity, [spec], piggyback)
        if outcome.allowed:
            return Admission(decision, decision, recorded=outcome.appended)
    headers = ratelimit.ratelimit_headers(outcome)
    if outcome.never_admissible and outcome.refused is not None:
        return Admission(decision, _denied(decision, _budget_capacity_reason(outcome.refused)), headers=headers)
    if not outcome.allowed and outcome.refused is not None:
        reason, retry = _refusal(outcome, outcome.refused, record.created_at)
        headers["Retry-After"] = ratelimit.retry_after_value(outcome.retry_after_s)
        details = {"policy": reason.rule, "limit": reason.limit, "retry_after_s": retry["retry_after_s"]}
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
    return Admission(decision, decision, headers=headers, rate_limit=rate_limit, recorded=outcome.appended)


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
