"""The pre-check pipeline: resolve the active policy, analyse (cached), decide (cached while no rule
condition takes part), rate-limit, record.

The decision itself is the pure engine's; this module only orchestrates I/O around it.
"""

import dataclasses
import hashlib
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils import timezone

from agents.identity import Identity
from agents.identity_cache import GENERATION_KEY, current_generation
from gqlgov import metrics
from gqlgov.errors import ApiError
from policies import engine, ratelimit
from policies.checks.caches import (
    ActivePolicy,
    active_policy,
    analysis_cache,
    decision_cache,
    limit_specs_cache,
    only_schema_name,
)
from policies.checks.limiter import get_limiter
from policies.checks.records import DecisionRecord, appended_to_stream, record_decision, stream_key_for_append
from policies.engine import reasons

logger = logging.getLogger("gqlgov.check")


@dataclass
class CheckRequest:
    query: str
    schema: str | None = None
    variables: dict[str, Any] | None = None
    operation_name: str | None = None
    context: dict[str, Any] = field(default_factory=dict)


@dataclass
class CheckResult:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Throttle:
    """What the limiter said about an otherwise-final decision (`admitted`)."""

    admitted: engine.Decision
    decision: engine.Decision
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    rate_limit: dict[str, Any] | None = None
    refusal: dict[str, Any] | None = None
    recorded: bool = False  # the admitted decision's record went onto the stream with the charge


def _hard_caps() -> engine.Limits:
    return engine.Limits(**settings.GQLGOV_HARD_CAPS)


def _analyse(active: ActivePolicy, request: CheckRequest) -> tuple[engine.Analysis, tuple[Any, ...]]:
    """The (cached) analysis and its cache key."""
    # The digest of the raw document keys this process's cache only: derived from unredacted
    # values, it is never stored, logged or shown (records carry the redacted document's).
    document_digest = hashlib.sha256(request.query.encode("utf-8", "surrogatepass")).digest()
    variables_key = json.dumps(request.variables or {}, sort_keys=True, separators=(",", ":"), default=str)
    key = (active.schema_version_id, document_digest, request.operation_name, variables_key)
    cache = analysis_cache()
    misses = cache.misses
    analysis = cache.get_or_create(
        key,
        lambda: engine.analyze(
            active.bundle,
            request.query,
            operation_name=request.operation_name,
            variables=request.variables,
            limits=engine.AnalysisLimits(max_document_bytes=settings.GQLGOV_MAX_DOCUMENT_BYTES, caps=_hard_caps()),
            default_list_size=settings.GQLGOV_DEFAULT_LIST_SIZE,
            mutation_base_cost=settings.GQLGOV_MUTATION_BASE_COST,
        ),
    )
    metrics.ANALYSIS_CACHE.labels("miss" if cache.misses != misses else "hit").inc()
    return analysis, key


def _decide(active: ActivePolicy, analysis: engine.Analysis, analysis_key: tuple[Any, ...], identity: Identity,
            request: CheckRequest, client_ip: str, now: datetime) -> engine.Decision:
    """The engine's decision; an unconditional one is reused for the same document, policy version and agent."""
    principal = identity.principal
    key = (active.policy_version_id, analysis_key, principal.name, principal.kind, tuple(principal.groups))
    cache = decision_cache() if settings.GQLGOV_DECISION_CACHE else None
    decision = cache.get(key) if cache is not None else None
    if decision is None:
        decision = engine.decide(
            active.policy,
            analysis,
            subject=subject_of(identity),
            request=engine.RequestContext(ip=client_ip, now=now, context=request.context),
            caps=_hard_caps(),
        )
        if cache is not None and not decision.conditional:
            cache.put(key, decision)
    return decision


def subject_of(identity: Identity) -> engine.Subject:
    principal = identity.principal
    return engine.Subject(
        name=principal.name,
        kind=principal.kind,
        groups=tuple(principal.groups),
        attributes=dict(principal.attributes),
        claims=dict(identity.claims),
    )


def _no_policy_decision(request: CheckRequest, schema_name: str | None, active: bool | None) -> engine.Decision:
    if active is False:
        message = f"Schema '{schema_name}' has no approved policy yet."
        return engine.deny_without_policy(reasons.NO_ACTIVE_POLICY, message)
    if request.schema:
        return engine.deny_without_policy(reasons.UNKNOWN_SCHEMA, f"No schema named '{request.schema}' is registered.")
    return engine.deny_without_policy(reasons.UNKNOWN_SCHEMA, "Name a registered schema in 'schema'.")


def run_check(*, identity: Identity, request: CheckRequest, client_ip: str) -> CheckResult:
    """Decides one check and records it; the result carries the HTTP status, body and headers.

    Raises RATE_LIMITER_UNAVAILABLE (503) when Redis is down and the limiter fails closed, and
    ratelimit.GuardFailed, having charged and recorded nothing, when the identity came from the
    cache unconfirmed and is stale: authenticate afresh and call again.
    """
    now = timezone.now()
    schema_name = request.schema or only_schema_name()
    found = active_policy(schema_name) if schema_name else None
    active: ActivePolicy | None = None
    if isinstance(found, ActivePolicy):
        active = found
        analysis, analysis_key = _analyse(active, request)
        decision = _decide(active, analysis, analysis_key, identity, request, client_ip, now)
    else:
        analysis = None
        decision = _no_policy_decision(request, schema_name, found)
    # The record as it stands if the limiter admits: then the limiter's round trip appends it.
    record = DecisionRecord.build(
        identity=identity, request=request, client_ip=client_ip, now=now, decision=decision,
        active=active, analysis=analysis,
    )
    throttle = _throttle(identity, decision, active, record)
    decision = throttle.decision
    if not throttle.recorded:
        if decision is not throttle.admitted:
            record = record.with_decision(decision)
        record_decision(record)
    body: dict[str, Any] = {
        "decision": decision.decision,
        "decision_id": str(record.id),
        "policy_version": record.policy_version,
        "operation": decision.operation,
        "reasons": [reason.as_dict() for reason in decision.reasons],
        "metrics": decision.metrics,
    }
    if decision.hints:
        body["hints"] = decision.hints
    if throttle.rate_limit is not None:
        body["rate_limit"] = throttle.rate_limit
    if throttle.refusal is not None:
        body["reasons"][-1]["retry_after_s"] = throttle.refusal["details"]["retry_after_s"]
        body["error"] = throttle.refusal
    return CheckResult(throttle.status, body, throttle.headers)


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
              record: DecisionRecord) -> Throttle:
    """Charges an allow against its limits; a denial only against the denied-checks ceiling."""
    agent = identity.principal.name
    piggyback = _piggyback(identity, record)
    if decision.decision == engine.ALLOW and active is not None:
        outcome = _acquire(identity, _limit_specs(active, decision, agent), piggyback)
    else:
        spec = ratelimit.denied_checks_spec(agent, settings.GQLGOV_DENIED_CHECKS_PER_MINUTE)
        outcome = _acquire(identity, [spec], piggyback)
        if outcome.allowed:
            return Throttle(decision, decision, recorded=outcome.appended)
    headers = ratelimit.ratelimit_headers(outcome)
    if outcome.never_admissible and outcome.refused is not None:
        return Throttle(decision, _denied(decision, _budget_capacity_reason(outcome.refused)), headers=headers)
    if not outcome.allowed and outcome.refused is not None:
        reason = _refusal_reason(outcome.refused, outcome.retry_after_s)
        headers["Retry-After"] = ratelimit.retry_after_value(outcome.retry_after_s)
        refusal = {
            "code": reason.code,
            "message": reason.message,
            "details": {"policy": reason.rule, "limit": reason.limit, "retry_after_s": round(outcome.retry_after_s, 3)},
        }
        return Throttle(decision, _denied(decision, reason), status=429, headers=headers, refusal=refusal)
    rate_limit = None
    if outcome.tightest is not None:
        rate_limit = {
            "limit": outcome.tightest.limit,
            "remaining": outcome.tightest.remaining,
            "reset_after_s": round(outcome.tightest.reset_after_s, 3),
            "policy": outcome.tightest.policy_name,
        }
    return Throttle(decision, decision, headers=headers, rate_limit=rate_limit, recorded=outcome.appended)


def _denied(decision: engine.Decision, reason: engine.Reason) -> engine.Decision:
    return dataclasses.replace(decision, decision=engine.DENY, reasons=[*decision.reasons, reason])


def _refusal_reason(spec: ratelimit.LimitSpec, retry_after_s: float) -> engine.Reason:
    return reasons.limit_used_up(spec.kind == "cost", spec.policy_name, spec.limit, spec.period_s, retry_after_s)


def _budget_capacity_reason(spec: ratelimit.LimitSpec) -> engine.Reason:
    """A document costlier than a whole budget can never pass: its capacity acts as a max_cost."""
    return reasons.limit_exceeded("max_cost", spec.burst, spec.weight, spec.policy_name)
