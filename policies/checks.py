"""The pre-check pipeline: resolve the active policy, analyse (cached), decide, rate-limit, record.

The decision itself is the pure engine's; this module only orchestrates I/O around it.
"""

import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.utils import timezone

from agents.auth import Identity
from policies import engine, ratelimit
from policies.limiter import get_limiter
from policies.recorder import DecisionRecord, record_decision
from policies.runtime import ActivePolicy, active_policy, analysis_cache, only_schema_name

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


def _analysis_limits() -> Any:
    return engine.AnalysisLimits(
        max_document_bytes=settings.GQLGOV_MAX_DOCUMENT_BYTES,
        max_tokens=settings.GQLGOV_HARD_CAPS["max_tokens"],
    )


def _canonical_variables(variables: dict[str, Any] | None) -> str:
    return json.dumps(variables or {}, sort_keys=True, separators=(",", ":"), default=str)


def _analyse(active: ActivePolicy, request: CheckRequest) -> tuple[Any, str]:
    document_hash = hashlib.sha256(request.query.encode("utf-8", "surrogatepass")).hexdigest()
    key = (active.schema_version_id, document_hash, request.operation_name, _canonical_variables(request.variables))
    analysis = analysis_cache().get_or_create(
        key,
        lambda: engine.analyze(
            active.bundle,
            request.query,
            operation_name=request.operation_name,
            variables=request.variables,
            limits=_analysis_limits(),
            default_list_size=settings.GQLGOV_DEFAULT_LIST_SIZE,
            mutation_base_cost=settings.GQLGOV_MUTATION_BASE_COST,
        ),
    )
    return analysis, document_hash


def _subject(identity: Identity) -> Any:
    principal = identity.principal
    return engine.Subject(
        name=principal.name,
        kind=principal.kind,
        groups=tuple(principal.groups),
        attributes=dict(principal.attributes),
        claims=dict(identity.claims),
    )


def run_check(*, identity: Identity, request: CheckRequest, client_ip: str) -> CheckResult:
    """Decides one check and records it; the result carries the HTTP status, body and headers."""
    started = time.perf_counter()
    now = timezone.now()
    schema_name = request.schema or only_schema_name()
    active = active_policy(schema_name) if schema_name else None
    if not active:
        code = engine.reasons.NO_ACTIVE_POLICY if active is False else engine.reasons.UNKNOWN_SCHEMA
        message = (
            f"Schema '{schema_name}' has no approved policy yet." if active is False
            else "Name a registered schema in 'schema'." if not request.schema
            else f"No schema named '{request.schema}' is registered."
        )
        decision = engine.deny_without_policy(code, message)
        return _finish(identity, request, client_ip, now, decision, None, None, "", started)

    analysis, document_hash = _analyse(active, request)
    decision = engine.decide(
        active.policy,
        analysis,
        subject=_subject(identity),
        request=engine.RequestContext(ip=client_ip, now=now, context=request.context),
        caps=engine.Limits(**settings.GQLGOV_HARD_CAPS),
    )
    return _finish(identity, request, client_ip, now, decision, active, analysis, document_hash, started)


def _limit_specs(active: ActivePolicy, decision: Any, agent: str) -> list[ratelimit.LimitSpec]:
    cost = int(decision.metrics.get("cost") or 0)
    specs = ratelimit.specs_from_policy(active.policy.default_rate_limits, agent=agent, scope="default", cost=cost)
    for rule_id in decision.admitting_rules:
        specs.extend(
            ratelimit.specs_from_policy(
                active.policy.rate_limits_of(rule_id), agent=agent, scope=f"rule:{rule_id}", cost=cost
            )
        )
    return specs


def _finish(identity, request, client_ip, now, decision, active, analysis, document_hash, started) -> CheckResult:
    agent = identity.principal.name
    body_extra: dict[str, Any] = {}
    headers: dict[str, str] = {}
    status = 200
    limiter = get_limiter()
    try:
        if decision.decision == "allow" and active is not None:
            outcome = limiter.acquire(agent, _limit_specs(active, decision, agent))
            if outcome.never_admissible:
                decision = engine.with_reason(decision, engine.budget_exceeds_capacity(
                    outcome.refused.policy_name, outcome.refused.burst, outcome.refused.weight
                ))
            elif not outcome.allowed:
                status = 429
                decision = engine.with_reason(decision, engine.rate_limited(
                    kind=outcome.refused.kind, policy=outcome.refused.policy_name,
                    limit=outcome.refused.limit, retry_after_s=outcome.retry_after_s,
                ))
            if outcome.tightest is not None:
                body_extra["rate_limit"] = {
                    "limit": outcome.tightest.limit,
                    "remaining": outcome.tightest.remaining,
                    "reset_after_s": round(outcome.tightest.reset_after_s, 3),
                    "policy": outcome.tightest.policy_name,
                }
            headers.update(ratelimit.ratelimit_headers(outcome))
        else:
            outcome = limiter.acquire(agent, [ratelimit.denied_checks_spec(agent, settings.GQLGOV_DENIED_CHECKS_PER_MINUTE)])
            if not outcome.allowed:
                status = 429
                decision = engine.with_reason(decision, engine.rate_limited(
                    kind="requests", policy=outcome.refused.policy_name,
                    limit=outcome.refused.limit, retry_after_s=outcome.retry_after_s,
                ))
                headers.update(ratelimit.ratelimit_headers(outcome))
    except ratelimit.LimiterUnavailable as exc:
        retry = ratelimit.retry_after_value(exc.retry_after_s)
        from gqlgov.errors import error_body

        return CheckResult(
            503,
            error_body("RATE_LIMITER_UNAVAILABLE", "The rate limiter is unavailable; retry shortly.",
                       {"retry_after_s": exc.retry_after_s}),
            {"Retry-After": retry},
        )
    if status == 429:
        headers["Retry-After"] = ratelimit.retry_after_value(decision.reasons[-1].retry_after_s or 1)

    record = DecisionRecord.build(
        identity=identity, request=request, client_ip=client_ip, now=now, decision=decision,
        active=active, analysis=analysis, document_hash=document_hash,
    )
    record_decision(record)
    body = {
        "decision": decision.decision,
        "decision_id": str(record.id),
        "policy_version": active.policy_version if active else None,
        "operation": decision.operation,
        "reasons": [reason.as_dict() for reason in decision.reasons],
        "metrics": decision.metrics,
        **({"hints": decision.hints} if decision.hints else {}),
        **body_extra,
    }
    if status == 429:
        reason = decision.reasons[-1]
        body["error"] = {"code": reason.code, "message": reason.message,
                         "details": {"policy": reason.rule, "limit": reason.limit, "retry_after_s": reason.retry_after_s}}
    logger.info("check", extra={"decision": decision.decision, "codes": [r.code for r in decision.reasons],
                                "duration_ms": round((time.perf_counter() - started) * 1000, 3)})
    return CheckResult(status, body, headers)
