"""The pre-check pipeline, as named steps: resolve the policy -> analyse (cached) -> decide (cached
while no rule condition takes part) -> bind (an allow: its digests and signing key) -> admit and
record (admission.py) -> sign (an admitted allow: its decision token) -> respond.

The decision itself is the pure engine's; this module only orchestrates I/O around it.
"""

import dataclasses
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

from django.conf import settings
from django.utils import timezone

from agents.identity import Identity
from gqlgov import metrics
from gqlgov_verify.binding import document_sha256
from policies import engine, ratelimit
from policies.approvals import gate as approvals
from policies.checks.admission import Admission, admit_and_record
from policies.checks.caches import (
    ActivePolicy,
    active_policy,
    analysis_cache,
    decision_cache,
    only_schema_name,
    shape_cache,
)
from policies.checks.records import DecisionRecord
from policies.engine import reasons
from policies.signing import signer

logger = logging.getLogger("gqlgov.check")


@dataclass
class CheckRequest:
    query: str
    schema: str | None = None
    variables: dict[str, Any] | None = None
    operation_name: str | None = None
    context: dict[str, Any] = field(default_factory=dict)
    approval_id: str | None = None  # a re-check of an approval request (policies/approvals)

    @cached_property
    def document_sha256(self) -> str:
        """SHA-256 hex of the query exactly as sent: the analysis cache's key and a token's binding."""
        return document_sha256(self.query)


@dataclass
class CheckResult:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def _hard_caps() -> engine.Limits:
    return engine.Limits(**settings.GQLGOV_HARD_CAPS)


def _analyse(active: ActivePolicy, request: CheckRequest) -> tuple[engine.Analysis, tuple[Any, ...]]:
    """The (cached) analysis and its cache key."""
    # The digest of the raw document is derived from unredacted values: it keys this process's
    # cache and goes back, in an allow's token, to the agent that sent the document; it is never
    # stored or logged (records carry the redacted document's).
    variables_key = json.dumps(request.variables or {}, sort_keys=True, separators=(",", ":"), default=str)
    key = (active.schema_version_id, request.document_sha256, request.operation_name, variables_key)
    cache = analysis_cache()
    misses = cache.misses
    analysis = cache.get_or_create(key, lambda: _analysed(active, request))
    metrics.ANALYSIS_CACHE.labels("miss" if cache.misses != misses else "hit").inc()
    return analysis, key


def _analysed(active: ActivePolicy, request: CheckRequest) -> engine.Analysis:
    """A fresh analysis, from the shape cache when the document's shape was analysed before."""
    options: dict[str, Any] = {
        "operation_name": request.operation_name,
        "variables": request.variables,
        "limits": engine.AnalysisLimits(max_document_bytes=settings.GQLGOV_MAX_DOCUMENT_BYTES, caps=_hard_caps()),
        "default_list_size": settings.GQLGOV_DEFAULT_LIST_SIZE,
        "mutation_base_cost": settings.GQLGOV_MUTATION_BASE_COST,
    }
    if settings.GQLGOV_SHAPE_CACHE_BYTES <= 0:
        return engine.analyze(active.bundle, request.query, **options)
    analysis, how = engine.analyze_shaped(shape_cache(), active.schema_version_id, active.bundle, request.query,
                                          **options)
    metrics.SHAPE_CACHE.labels(how).inc()
    return analysis


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


def run_check(*, identity: Identity, request: CheckRequest, client_ip: str,
              reauthenticate: Callable[[], Identity]) -> CheckResult:
    """Decides one check and records it; the result carries the HTTP status, body and headers.

    A cached identity found stale while admitting (suspended, revoked, changed: nothing was
    charged or recorded) is replaced by `reauthenticate()` (which raises 401/403 if the caller
    is no longer allowed) and the check is made again. Raises RATE_LIMITER_UNAVAILABLE (503)
    when Redis is down and the limiter fails closed.
    """
    try:
        return _check(identity, request, client_ip)
    except ratelimit.GuardFailed:
        return _check(reauthenticate(), request, client_ip)


def _check(identity: Identity, request: CheckRequest, client_ip: str) -> CheckResult:
    now = timezone.now()
    active, found, schema_name = _resolve_policy(request)
    if active is not None:
        analysis, analysis_key = _analyse(active, request)
        decision = _decide(active, analysis, analysis_key, identity, request, client_ip, now)
    else:
        analysis = None
        decision = _no_policy_decision(request, schema_name, found)
    decision, approval = approvals.gate(check=request, identity=identity, decision=decision, active=active, now=now)
    decision, binding = _bind(request, decision)
    # The record as it stands if the limiter admits: then the limiter's round trip appends it.
    record = DecisionRecord.build(
        identity=identity, request=request, client_ip=client_ip, now=now, decision=decision,
        active=active, analysis=analysis,
    )
    decision, record = approvals.consume(approval, decision, record, identity, now)
    try:
        admission, record = admit_and_record(identity, decision, active, record)
    except Exception:
        # Nothing was admitted (a stale identity is re-checked by run_check, Redis may be down):
        # the approval this check used is not spent.
        approvals.release_unadmitted(approval, record, identity)
        raise
    approval_out = approvals.settle(approval, admission.decision, record, identity, request, active, now)
    return _respond(admission, record, _sign(admission, binding, identity, record, now), approval_out)


def _bind(request: CheckRequest, decision: engine.Decision) -> tuple[engine.Decision, signer.Binding | None]:
    """An allow's binding (digests and signing key), made before anything is charged or recorded,
    so that a key which cannot sign (503) costs the agent nothing. An allow whose variables have
    no canonical form becomes a deny: no verifier could match its token to them."""
    if decision.decision != engine.ALLOW:
        return decision, None
    try:
        return decision, signer.bind(request.document_sha256, request.variables)
    except signer.VariablesNotBindable as error:
        return dataclasses.replace(decision, decision=engine.DENY,
                                   reasons=[reasons.variables_not_bindable(str(error))]), None


def _sign(admission: Admission, binding: signer.Binding | None, identity: Identity, record: DecisionRecord,
          now: datetime) -> str | None:
    """The decision token of an allow the limiter admitted; none for any other answer."""
    if binding is None or admission.decision.decision != engine.ALLOW:
        return None
    principal = identity.principal
    return signer.mint(
        binding, subject=principal.name, iam_role_arn=principal.iam_role_arn, decision_id=str(record.id),
        schema=record.schema_name, policy_version=record.policy_version,
        operation=admission.decision.operation or {}, issued_at=now,
    )


def _resolve_policy(request: CheckRequest) -> tuple[ActivePolicy | None, bool | None, str | None]:
    """The active policy of the schema named (or the only one), else what was found instead:
    False for a schema without an approved policy, None for no such schema."""
    schema_name = request.schema or only_schema_name()
    found = active_policy(schema_name) if schema_name else None
    if isinstance(found, ActivePolicy):
        return found, True, schema_name
    return None, found, schema_name


def _respond(admission: Admission, record: DecisionRecord, token: str | None,
             approval: dict[str, Any] | None = None) -> CheckResult:
    decision = admission.decision
    body: dict[str, Any] = {
        "decision": decision.decision,
        "decision_id": str(record.id),
        "policy_version": record.policy_version,
        "operation": decision.operation,
        "reasons": [reason.as_dict() for reason in decision.reasons],
        "metrics": decision.metrics,
    }
    if token is not None:
        body["decision_token"] = token
    if approval is not None:
        body["approval"] = approval
    if decision.hints:
        body["hints"] = decision.hints
    if admission.rate_limit is not None:
        body["rate_limit"] = admission.rate_limit
    if admission.refusal is not None:
        body["reasons"][-1]["retry_after_s"] = admission.refusal["details"]["retry_after_s"]
        body["error"] = admission.refusal
    return CheckResult(admission.status, body, admission.headers)
