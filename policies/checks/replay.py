"""Replay: recorded checks re-evaluated against a policy version (a draft, or one in review)
and the schema version it is pinned to, to show a reviewer what approving it would change.

Nothing is recorded and no rate limit is charged: a replay runs the analysis and the engine's
decision only, reusing the check's analysis cache (recorded traffic repeats its documents).
Records are streamed from the database, so memory stays flat whatever their number.

What a record cannot tell is counted as *undetermined*, not guessed: a check whose document or
variables had redacted values, when the replayed decision depended on them (the document no
longer validates, or a rule condition was evaluated), and a check by an agent (or for a person)
since deleted. A check made on behalf of a person is decided as the check decides it: the
intersection of the agent's rules and the person's.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings

from agents.models import Principal
from policies import engine, lockstep
from policies.checks.caches import compiled_policy, schema_bundle
from policies.checks.pipeline import CheckRequest, analyse_against
from policies.engine import reasons
from policies.models import Decision, PolicyVersion

FLIPS = ("allow_to_deny", "deny_to_allow", "to_pending", "from_pending")
_EXAMPLES_PER_FLIP = 5
# A record decided by the limiter or by an approval re-check says nothing about the rules: the
# limiter refuses what the rules allowed; an approval re-check is decided by its approval.
_LIMITER_CODES = frozenset({reasons.RATE_LIMITED, reasons.COST_BUDGET_EXCEEDED, reasons.VARIABLES_NOT_BINDABLE})
_SKIPPED_CODES = frozenset({
    reasons.UNKNOWN_SCHEMA, reasons.NO_ACTIVE_POLICY, reasons.APPROVAL_NOT_FOUND, reasons.APPROVAL_MISMATCH,
    reasons.APPROVAL_USED, reasons.APPROVAL_EXPIRED, reasons.APPROVAL_DENIED,
})
_FIELDS = ("id", "created_at", "principal_id", "agent_name", "operation_name", "decision", "reasons", "client_ip",
           "variables_redacted", "document_redacted", "context_redacted", "delegator_id")
PROGRESS_EVERY = 1_000
# Unconditional decisions reused within one replay for the same document, variables and agent
# (recorded traffic repeats itself); bounded so that a replay's memory stays flat.
_MAX_MEMO = 20_000


@dataclass
class ReplaySummary:
    """What a replay found; `as_dict()` is what is stored, shown and printed."""

    schema: str
    policy_version: int
    schema_version: int | None
    since: str
    replayed: int = 0
    unchanged: int = 0
    undetermined: int = 0
    skipped: int = 0
    flips: Counter[str] = field(default_factory=Counter)
    by_rule: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    by_agent: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    examples: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))

    def as_dict(self) -> dict[str, Any]:
        return {
            "schema": self.schema, "policy_version": self.policy_version, "schema_version": self.schema_version,
            "since": self.since, "replayed": self.replayed, "unchanged": self.unchanged,
            "undetermined": self.undetermined, "skipped": self.skipped,
            "flips": {flip: self.flips.get(flip, 0) for flip in FLIPS},
            "by_rule": {rule: dict(counts) for rule, counts in sorted(self.by_rule.items())},
            "by_agent": {agent: dict(counts) for agent, counts in sorted(self.by_agent.items())},
            "examples": {flip: list(items) for flip, items in self.examples.items()},
        }


def replay_policy_version(version: PolicyVersion, *, since: datetime,
                          on_progress: Callable[[int, int], None] | None = None) -> ReplaySummary:
    """Re-evaluates the schema's checks recorded since `since` against `version`; `on_progress(done,
    total)` is called every PROGRESS_EVERY records and at the end."""
    pinned = lockstep.pinned_schema_version(version)
    summary = ReplaySummary(version.schema.name, version.number, pinned.number if pinned else None, since.isoformat())
    records = Decision.objects.filter(schema_name=version.schema.name, created_at__gte=since)
    total = records.count()
    if pinned is None:
        summary.skipped = total
        return summary
    bundle = schema_bundle(pinned)
    evaluate = _Evaluator(bundle, pinned.pk, compiled_policy(version, bundle))
    done = 0
    for row in _rows(records):
        _replay_one(summary, evaluate, row)
        done += 1
        if on_progress is not None and done % PROGRESS_EVERY == 0:
            on_progress(done, total)
    if on_progress is not None:
        on_progress(done, total)
    return summary


def _rows(records: Any) -> Iterator[dict[str, Any]]:
    for values in records.order_by("created_at").values_list(*_FIELDS).iterator(chunk_size=2_000):
        yield dict(zip(_FIELDS, values, strict=True))


class _Evaluator:
    """The engine's decision for one record, with the agents looked up once each and an
    unconditional decision reused for the same document, variables and agent."""

    def __init__(self, bundle: Any, schema_version_id: int, policy: Any) -> None:
        self.bundle, self.schema_version_id, self.policy = bundle, schema_version_id, policy
        self.caps = engine.Limits(**settings.GQLGOV_HARD_CAPS)
        self._subjects: dict[int | None, engine.Subject | None] = {}
        self._decided: dict[tuple[Any, ...], tuple[engine.Analysis, engine.Decision]] = {}

    def subject(self, principal_id: int | None) -> engine.Subject | None:
        if principal_id not in self._subjects:
            principal = Principal.objects.filter(pk=principal_id).first() if principal_id else None
            self._subjects[principal_id] = None if principal is None else engine.Subject(
                name=principal.name, kind=principal.kind, groups=tuple(principal.groups),
                attributes=dict(principal.attributes),
            )
        return self._subjects[principal_id]

    def __call__(self, row: dict[str, Any], subject: engine.Subject,
                 person: engine.Subject | None) -> tuple[engine.Analysis, engine.Decision]:
        request = CheckRequest(query=row["document_redacted"], variables=row["variables_redacted"] or None,
                               operation_name=row["operation_name"] or None, context=row["context_redacted"] or {})
        analysis, key = analyse_against(self.bundle, self.schema_version_id, request)
        memo_key = (key, row["principal_id"], row["delegator_id"])
        known = self._decided.get(memo_key)
        if known is not None and known[0] is analysis:
            return known
        context = engine.RequestContext(ip=row["client_ip"] or "", now=row["created_at"], context=request.context)
        decision = engine.decide(self.policy, analysis, subject=subject, request=context, caps=self.caps)
        if person is not None:
            decision = engine.intersect(
                decision, engine.decide(self.policy, analysis, subject=person, request=context, caps=self.caps))
        if not decision.conditional:
            if len(self._decided) >= _MAX_MEMO:
                self._decided.clear()
            self._decided[memo_key] = (analysis, decision)
        return analysis, decision


def _replay_one(summary: ReplaySummary, evaluate: _Evaluator, row: dict[str, Any]) -> None:
    before = _recorded_outcome(row)
    if before is None or not row["document_redacted"]:
        summary.skipped += 1
        return
    summary.replayed += 1
    subject = evaluate.subject(row["principal_id"])
    person = evaluate.subject(row["delegator_id"]) if row["delegator_id"] else None
    if subject is None or (row["delegator_id"] and person is None):
        summary.undetermined += 1
        return
    analysis, decision = evaluate(row, subject, person)
    if _had_redacted_values(row) and (analysis.failure or decision.conditional):
        summary.undetermined += 1
        return
    flip = _flip(before, decision.decision)
    if flip is None:
        summary.unchanged += 1
        return
    rule = decision.deciding_rule or ",".join(decision.admitting_rules) or "(no rule)"
    summary.flips[flip] += 1
    summary.by_rule[rule][flip] += 1
    summary.by_agent[row["agent_name"]][flip] += 1
    if len(summary.examples[flip]) < _EXAMPLES_PER_FLIP:
        summary.examples[flip].append({
            "decision_id": str(row["id"]), "agent": row["agent_name"], "rule": rule, "before": before,
            "after": decision.decision, "document": row["document_redacted"], "variables": row["variables_redacted"],
            "reasons": [reason.code for reason in decision.reasons],
        })


def _recorded_outcome(row: dict[str, Any]) -> str | None:
    """What the rules decided when the check was made, or None for a record they did not decide."""
    codes = {reason.get("code") for reason in row["reasons"] or [] if isinstance(reason, dict)}
    if codes & _SKIPPED_CODES:
        return None
    if codes and codes <= _LIMITER_CODES:
        return engine.ALLOW  # the rules allowed it; the limiter or the signer refused it
    return str(row["decision"])


def _flip(before: str, after: str) -> str | None:
    if before == after:
        return None
    if after == engine.PENDING_APPROVAL:
        return "to_pending"
    if before == engine.PENDING_APPROVAL:
        return "from_pending"
    return "allow_to_deny" if before == engine.ALLOW else "deny_to_allow"


def _had_redacted_values(row: dict[str, Any]) -> bool:
    marker = engine.REDACTED
    return marker in row["document_redacted"] or marker in repr(row["variables_redacted"]) \
        or marker in repr(row["context_redacted"])
