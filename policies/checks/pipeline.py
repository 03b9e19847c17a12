"""The pre-check pipeline, as named steps: resolve the delegator (a person the agent acts for, by
their IdP token) -> resolve the policy (and the schema version it is pinned to) -> resolve a
persisted document sent by hash -> analyse (cached, by document and by shape) -> decide (for the
agent, and for the person when there is one: the intersection of both; cached while no rule
condition takes part) -> a document only a schema version awaiting review accepts -> what the agent
is shown (its own schema's view of a denial) -> approvals -> bind (an allow: its digests and
signing key) -> admit and record (admission.py) -> sign (an admitted allow: its decision token) ->
respond.

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

from agents.delegation import Delegator, delegator_from_token
from agents.identity import Identity
from gqlgov import metrics
from gqlgov_verify.binding import document_sha256
from policies import engine, ratelimit, selectors
from policies.approvals import gate as approvals
from policies.checks.admission import Admission, admit_and_record
from policies.checks.caches import (
    ActivePolicy,
    active_policy,
    analysis_cache,
    checkable_schema_names,
    decision_cache,
    only_schema_name,
    own_bundle_cache,
    shape_cache,
)
from policies.checks.persisted import persisted_for
from policies.checks.records import DecisionRecord
from policies.engine import agent_view, reasons
from policies.engine.delegation import AGENT_SIDE
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
    on_behalf_of: str | None = None  # the IdP access token of the person the agent acts for
    # Sent by hash only (APQ): the persisted document replaces the empty query (_resolve_persisted).
    persisted_sha256: str | None = None

    @cached_property
    def document_sha256(self) -> str:
        """SHA-256 hex of the query exactly as sent: the analysis cache's key and a token's binding."""
        return document_sha256(self.query)


@dataclass
class CheckResult:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    # The reasons as recorded (the true cause, which `body` may tell the agent otherwise), for metrics.
    recorded_reasons: list[dict[str, Any]] = field(default_factory=list)


def _hard_caps() -> engine.Limits:
    return engine.Limits(**settings.GQLGOV_HARD_CAPS)


def _analyse(active: ActivePolicy, request: CheckRequest) -> tuple[engine.Analysis, tuple[Any, ...]]:
    """The (cached) analysis against the pinned schema version, and its cache key."""
    return analyse_against(active.bundle, active.schema_version_id, request)


def analyse_against(bundle: Any, schema_version_id: int,
                     request: CheckRequest) -> tuple[engine.Analysis, tuple[Any, ...]]:
    """The (cached) analysis of the request against one schema version, and its cache key."""
    # The digest of the raw document is derived from unredacted values: it keys this process's
    # cache and goes back, in an allow's token, to the agent that sent the document; it is never
    # stored or logged (records carry the redacted document's).
    variables_key = json.dumps(request.variables or {}, sort_keys=True, separators=(",", ":"), default=str)
    key = (schema_version_id, request.document_sha256, request.operation_name, variables_key)
    cache = analysis_cache()
    misses = cache.misses
    analysis = cache.get_or_create(key, lambda: _analysed(bundle, schema_version_id, request))
    metrics.ANALYSIS_CACHE.labels("miss" if cache.misses != misses else "hit").inc()
    return analysis, key


def _analysed(bundle: Any, schema_version_id: int, request: CheckRequest) -> engine.Analysis:
    """A fresh analysis, from the shape cache when the document's shape was analysed before."""
    options: dict[str, Any] = {
        "operation_name": request.operation_name,
        "variables": request.variables,
        "limits": engine.AnalysisLimits(max_document_bytes=settings.GQLGOV_MAX_DOCUMENT_BYTES, caps=_hard_caps()),
        "default_list_size": settings.GQLGOV_DEFAULT_LIST_SIZE,
        "mutation_base_cost": settings.GQLGOV_MUTATION_BASE_COST,
    }
    if settings.GQLGOV_SHAPE_CACHE_BYTES <= 0:
        return engine.analyze(bundle, request.query, **options)
    analysis, how = engine.analyze_shaped(shape_cache(), schema_version_id, bundle, request.query, **options)
    metrics.SHAPE_CACHE.labels(how).inc()
    return analysis


def _request_context(active: ActivePolicy, identity: Identity, request: CheckRequest, client_ip: str,
                     now: datetime) -> engine.RequestContext:
    """Where, when and with what the check is made; whether the document is persisted for the agent
    is looked up only when a rule of the policy needs it (`persisted_only`)."""
    persisted = active.policy.has_persisted_only and \
        persisted_for(active.schema_id, request.document_sha256, identity) is not None
    return engine.RequestContext(ip=client_ip, now=now, context=request.context, persisted=persisted)


def _decide(active: ActivePolicy, analysis: engine.Analysis, analysis_key: tuple[Any, ...], identity: Identity,
            delegator: Delegator | None, context: engine.RequestContext) -> engine.Decision:
    """The engine's decision for the agent, intersected with the person's when it acts for one; an
    unconditional one is reused for the same document, policy version, agent and person."""
    key = (active.policy_version_id, analysis_key, _subject_key(identity),
           _delegator_key(delegator) if delegator is not None else None, context.persisted)
    cache = decision_cache() if settings.GQLGOV_DECISION_CACHE else None
    decision = cache.get(key) if cache is not None else None
    if decision is None:
        decision = _decided(active, analysis, identity, delegator, context)
        if cache is not None and not decision.conditional:
            cache.put(key, decision)
    return decision


def _decided(active: ActivePolicy, analysis: engine.Analysis, identity: Identity, delegator: Delegator | None,
             context: engine.RequestContext) -> engine.Decision:
    decision = _engine_decision(active, analysis, identity, context)
    if delegator is not None:
        decision = engine.intersect(decision, _delegator_decision(active, analysis, delegator, context))
    return decision


def _resolve_persisted(active: ActivePolicy | None, identity: Identity,
                       request: CheckRequest) -> tuple[CheckRequest, str | None]:
    """A request sent by hash only (APQ) with its persisted document in place of the query; the hash
    itself when no document persisted for the agent has it (the check is then refused, NOT_PERSISTED)."""
    if request.persisted_sha256 is None or active is None:
        return request, None
    document = persisted_for(active.schema_id, request.persisted_sha256, identity)
    if document is None:
        return request, request.persisted_sha256
    return dataclasses.replace(request, query=document), None


def _pending_schema_version(active: ActivePolicy, analysis: engine.Analysis, request: CheckRequest,
                            decision: engine.Decision) -> engine.Decision:
    """A document the pinned schema version refuses as invalid but the version awaiting review
    accepts is refused with SCHEMA_VERSION_PENDING: it uses what that version adds, which no
    reviewed policy governs yet. Costs a second analysis only for such invalid documents."""
    pending = active.pending
    if pending is None or not analysis.failure or analysis.failure[0].code != reasons.GRAPHQL_VALIDATION_FAILED:
        return decision
    newer, _key = analyse_against(pending.bundle, pending.schema_version_id, request)
    if newer.failure:
        return decision
    return engine.deny_pending_schema(active.schema_name, active.schema_version, pending.schema_version)


def _engine_decision(active: ActivePolicy, analysis: engine.Analysis, identity: Identity,
                     context: engine.RequestContext) -> engine.Decision:
    return engine.decide(active.policy, analysis, subject=subject_of(identity), request=context, caps=_hard_caps())


def _delegator_decision(active: ActivePolicy, analysis: engine.Analysis, delegator: Delegator,
                        context: engine.RequestContext) -> engine.Decision:
    """The person's side: their own rules decide, as if they checked the document themselves."""
    if delegator.identity is None:
        message = f"No person is registered for OIDC subject {delegator.subject!r}."
        return engine.delegator_refused(reasons.unknown_principal(message))
    if not delegator.identity.principal.is_active:
        return engine.delegator_refused(reasons.delegator_suspended(delegator.identity.principal.name))
    return _engine_decision(active, analysis, delegator.identity, context)


def _subject_key(identity: Identity) -> tuple[Any, ...]:
    """What an unconditional decision depends on of who is asking."""
    principal = identity.principal
    return principal.name, principal.kind, tuple(principal.groups)


def _delegator_key(delegator: Delegator) -> tuple[Any, ...]:
    if delegator.identity is None:
        return ("unknown", delegator.subject)
    return (*_subject_key(delegator.identity), delegator.identity.principal.status)


def _resolve_delegator(request: CheckRequest) -> Delegator | None:
    """The person the agent acts for, from their IdP token; raises DelegationRefused (403) when the
    token does not verify. None for a check of the agent's own."""
    if request.on_behalf_of is None:
        return None
    return delegator_from_token(request.on_behalf_of)


def _shown_to_agent(active: ActivePolicy, analysis: engine.Analysis, analysis_key: tuple[Any, ...],
                    identity: Identity, delegator: Delegator | None, context: engine.RequestContext,
                    decision: engine.Decision) -> engine.Decision:
    """The decision as the agent may see it: a denial told as its own schema would tell it
    (engine.agent_view); the record keeps `decision`. Allows cost nothing here."""
    if not agent_view.may_reveal_hidden(decision, analysis):
        return decision
    key = ("shown", active.policy_version_id, analysis_key, _subject_key(identity),
           _delegator_key(delegator) if delegator is not None else None, context.persisted)
    cache = decision_cache() if settings.GQLGOV_DECISION_CACHE and not decision.conditional else None
    shown = cache.get(key) if cache is not None else None
    if shown is None:
        subject = subject_of(identity)
        own = selectors.own_schema_of(active, subject)
        own_key = ("own", *selectors.own_schema_key(active, subject))
        shown = agent_view.shown_to_agent(
            decision, analysis, own.visibility,
            lambda again: _redecided_for_agent(active, again, identity, delegator, context),
            lambda: own_bundle_cache().get_or_create(own_key, own.visibility.build_bundle),
        )
        if cache is not None:
            # The cached decision object may come back from the decision cache: keep it identical.
            cache.put(key, shown if shown is not decision else _SAME)
    return decision if shown is _SAME else shown


def _redecided_for_agent(active: ActivePolicy, again: engine.Analysis, identity: Identity,
                         delegator: Delegator | None, context: engine.RequestContext) -> engine.Decision:
    """The decision on the document analysed against the agent's own schema. A document that fails
    there is the agent side's refusal alone (the person's rules never saw the agent's schema)."""
    if delegator is None:
        return _engine_decision(active, again, identity, context)
    if again.failure:
        decision = _engine_decision(active, again, identity, context)
        return dataclasses.replace(decision, reasons=[reasons.on_side(reason, AGENT_SIDE)
                                                      for reason in decision.reasons])
    return _decided(active, again, identity, delegator, context)


def _shown_overlay(decision: engine.Decision, engine_decision: engine.Decision,
                   shown: engine.Decision) -> dict[str, Any] | None:
    """The record's `shown_to_agent` (records.as_shown_to_agent reads it): None when the agent
    is shown the decision as it is."""
    if agent_view.as_shown(decision, engine_decision, shown) is decision:
        return None
    return {
        "replaces": len(engine_decision.reasons),
        "reasons": [reason.as_dict() for reason in shown.reasons],
        "metrics": shown.metrics,
        "operation": shown.operation,
    }


# Cached for a denial shown to the agent as it is (so that a hit still compares identical).
_SAME = engine.Decision(engine.DENY, [], {}, None)


def subject_of(identity: Identity) -> engine.Subject:
    principal = identity.principal
    return engine.Subject(
        name=principal.name,
        kind=principal.kind,
        groups=tuple(principal.groups),
        attributes=dict(principal.attributes),
        claims=dict(identity.claims),
    )


def _no_policy_decision(
    request: CheckRequest, schema_name: str | None, active: bool | None, identity: Identity
) -> engine.Decision:
    if active is False:
        message = f"Schema '{schema_name}' has no approved policy yet."
        return engine.deny_without_policy(reasons.NO_ACTIVE_POLICY, message)
    principal = identity.principal
    visible = checkable_schema_names(principal.name, principal.kind, tuple(principal.groups))
    missing = f"No schema named '{request.schema}' is registered." if request.schema else (
        "Name a registered schema in 'schema'."
    )
    return engine.deny_without_policy(reasons.UNKNOWN_SCHEMA, missing, schemas=visible)


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
    delegator = _resolve_delegator(request)
    person = delegator.identity if delegator is not None else None  # a known person, active or not
    active, found, schema_name = _resolve_policy(request)
    request, unknown_hash = _resolve_persisted(active, identity, request)
    if unknown_hash is not None:
        analysis, decision = None, engine.deny_unknown_persisted(unknown_hash)
        shown = decision
    elif active is not None:
        analysis, analysis_key = _analyse(active, request)
        context = _request_context(active, identity, request, client_ip, now)
        decision = _decide(active, analysis, analysis_key, identity, delegator, context)
        decision = _pending_schema_version(active, analysis, request, decision)
        shown = _shown_to_agent(active, analysis, analysis_key, identity, delegator, context, decision)
    else:
        analysis = None
        decision = shown = _no_policy_decision(request, schema_name, found, identity)
    engine_decision = decision
    decision, approval = approvals.gate(check=request, identity=identity, decision=decision, active=active, now=now,
                                        delegator=person)
    decision, binding = _bind(request, decision)
    # The record as it stands if the limiter admits: then the limiter's round trip appends it.
    record = DecisionRecord.build(
        identity=identity, request=request, client_ip=client_ip, now=now, decision=decision,
        active=active, analysis=analysis, delegator=person,
        shown_to_agent=_shown_overlay(decision, engine_decision, shown),
    )
    decision, record = approvals.consume(approval, decision, record, identity, now)
    try:
        admission, record = admit_and_record(identity, decision, active, record, person)
    except Exception:
        # Nothing was admitted (a stale identity is re-checked by run_check, Redis may be down):
        # the approval this check used is not spent.
        approvals.release_unadmitted(approval, record, identity)
        raise
    approval_out = approvals.settle(approval, admission.decision, record, identity, request, active, now)
    token = _sign(admission, binding, identity, record, now)
    return _respond(agent_view.as_shown(admission.decision, engine_decision, shown), admission, record, token,
                    approval_out)


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
        on_behalf_of=record.delegator_name or None,
    )


def _resolve_policy(request: CheckRequest) -> tuple[ActivePolicy | None, bool | None, str | None]:
    """The active policy of the schema named (or the only one), else what was found instead:
    False for a schema without an approved policy, None for no such schema."""
    schema_name = request.schema or only_schema_name()
    found = active_policy(schema_name) if schema_name else None
    if isinstance(found, ActivePolicy):
        return found, True, schema_name
    return None, found, schema_name


def _respond(decision: engine.Decision, admission: Admission, record: DecisionRecord, token: str | None,
             approval: dict[str, Any] | None = None) -> CheckResult:
    """The answer: `decision` is the admitted one as the agent may see it (the record keeps the true cause)."""
    body: dict[str, Any] = {
        "decision": decision.decision,
        "decision_id": str(record.id),
        "policy_version": record.policy_version,
        **({"on_behalf_of": record.delegator_name} if record.delegator_name else {}),
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
    return CheckResult(admission.status, body, admission.headers, record.reasons)
