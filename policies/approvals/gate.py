"""The check's approval step: a pending_approval answer asks for (or finds) its approval request;
a check re-sent with `approval_id` for an approved request becomes an allow, exactly once.

Called by the check pipeline around admission: `gate()` judges before anything is charged,
`consume()` uses the approval atomically once the decision record exists, `settle()` after
admission asks for the request (pending) or gives a use back the limiter refused.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from agents.identity import Identity
from policies import engine
from policies.approvals import notify, services
from policies.engine import reasons
from policies.models import ApprovalRequest
from policies.signing import signer

Status = ApprovalRequest.Status
_REFUSAL_OF_STATUS = {Status.DENIED: reasons.APPROVAL_DENIED, Status.EXPIRED: reasons.APPROVAL_EXPIRED,
                      Status.USED: reasons.APPROVAL_USED}


@dataclass
class Gate:
    """What the approval step knows about one check."""

    binding: services.Binding | None = None
    approval: ApprovalRequest | None = None
    to_use: bool = False  # an approved request this check uses (consume())
    used: bool = False


def gate(*, check: Any, identity: Identity, decision: engine.Decision, active: Any,
         now: datetime, delegator: Identity | None = None) -> tuple[engine.Decision, Gate]:
    """The decision as the approval step makes it: only a pending_approval is touched.

    On behalf of a person (`delegator`) the approval is bound to both: it serves neither the agent
    alone nor the agent acting for someone else."""
    if decision.decision != engine.PENDING_APPROVAL or active is None:
        return decision, Gate()
    try:
        variables = signer.variables_digest(check.variables)
    except signer.VariablesNotBindable as error:
        return _deny(decision, reasons.variables_not_bindable(str(error))), Gate()
    binding = services.Binding(identity.principal, active.schema_name, active.policy_version,
                               (decision.operation or {}).get("name") or "", check.document_sha256, variables,
                               delegator.principal if delegator is not None else None)
    if check.approval_id is None:
        return decision, Gate(binding)
    wanted = services.as_uuid(check.approval_id)
    approval = ApprovalRequest.objects.filter(pk=wanted, principal=identity.principal).first()
    if approval is None:
        # Only a well-formed id is quoted back: the text sent may be anything (a lone surrogate...).
        quoted = str(wanted) if wanted is not None else "(not an approval id)"
        return _deny(decision, reasons.approval_refused(reasons.APPROVAL_NOT_FOUND, quoted)), Gate()
    services.expire_due(now=now, approval=approval)
    found = Gate(binding, approval)
    if any(getattr(approval, name) != value for name, value in binding.filter().items() if name != "principal"):
        return _deny(decision, _refusal(approval, reasons.APPROVAL_MISMATCH)), found
    if approval.status in _REFUSAL_OF_STATUS:
        return _deny(decision, _refusal(approval, _REFUSAL_OF_STATUS[approval.status])), found
    if approval.status == Status.APPROVED:
        found.to_use = True
        return dataclasses.replace(decision, decision=engine.ALLOW, reasons=[]), found
    return decision, found  # still pending: the same request again


def consume(found: Gate, decision: engine.Decision, record: Any, identity: Identity,
            now: datetime) -> tuple[engine.Decision, Any]:
    """Uses the approval for this allow; a concurrent check that used it first makes this one APPROVAL_USED."""
    if not found.to_use or found.approval is None:
        return decision, record
    found.used = services.approval_use(approval_id=found.approval.pk, principal=identity.principal,
                                       decision_id=record.id, now=now)
    if found.used:
        return decision, record
    found.approval.refresh_from_db()
    code = _REFUSAL_OF_STATUS.get(found.approval.status, reasons.APPROVAL_USED)
    denied = _deny(decision, _refusal(found.approval, code))
    return denied, record.with_decision(denied)


def release_unadmitted(found: Gate, record: Any, identity: Identity) -> None:
    """Gives back the approval `consume` used for a check that admission then did not complete."""
    if found.used and found.approval is not None:
        services.approval_release(approval_id=found.approval.pk, principal=identity.principal,
                                  decision_id=record.id, why="the check was not admitted (made again or failed)")
        found.used = False


def settle(found: Gate, final: engine.Decision, record: Any, identity: Identity, check: Any, active: Any,
           now: datetime) -> dict[str, Any] | None:
    """After admission: the `approval` entry of the answer (None when no approval takes part)."""
    if found.used and final.decision != engine.ALLOW:
        services.approval_release(approval_id=found.approval.pk, principal=identity.principal,
                                  decision_id=record.id)
        found.approval.refresh_from_db()
    if found.approval is None and found.binding is not None and final.decision == engine.PENDING_APPROVAL:
        rule = active.policy.rules_by_id.get(final.deciding_rule or "")
        found.approval = services.request_approval(binding=found.binding, record=record, rule=rule,
                                                   reason=(check.context or {}).get("reason"), now=now)
    if found.approval is None:
        return None
    if found.used:
        found.approval.refresh_from_db()
    return summary(found.approval)


def summary(approval: ApprovalRequest) -> dict[str, Any]:
    """The `approval` object of a check's answer (and the start of the poll's)."""
    return {"id": str(approval.pk), "status": approval.status, "expires_at": approval.expires_at.isoformat(),
            "review_url": notify.review_url(approval), "poll_url": notify.poll_url(approval)}


def _refusal(approval: ApprovalRequest, code: str) -> engine.Reason:
    return reasons.approval_refused(code, str(approval.pk), rule=approval.rule or None, comment=approval.comment)


def _deny(decision: engine.Decision, reason: engine.Reason) -> engine.Decision:
    return dataclasses.replace(decision, decision=engine.DENY, reasons=[reason], deciding_rule=reason.rule)
