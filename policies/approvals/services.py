"""Approval requests' writes, each with its audit event in the same transaction: asked for (by a
check), decided (by people), used (by the agent's re-check), expired.

Every state change is a conditional UPDATE that must change exactly one row, so two people
deciding at once, or two re-checks using one approval at once, cannot both win.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from agents.audit import actor_for_principal, actor_for_user, record_event
from agents.models import Principal
from gqlgov import roles
from gqlgov.errors import ApiError, NotFound
from policies import engine
from policies.models import ApprovalRequest, ApprovalVote

Status = ApprovalRequest.Status
NOTIFY_TASK = "policies.notify_approval"
MAX_COMMENT_CHARS = 2000
_ACTIVE = (Status.PENDING, Status.APPROVED)


@dataclass(frozen=True)
class Binding:
    """What an approval is for: the agent (and the person it acts for), where, and the exact
    document and variables."""

    principal: Principal
    schema_name: str
    policy_version: int | None
    operation_name: str
    document_sha256: str
    variables_sha256: str
    delegator: Principal | None = None

    def filter(self) -> dict[str, Any]:
        return {"principal": self.principal, "delegator": self.delegator, "schema_name": self.schema_name,
                "policy_version": self.policy_version, "operation_name": self.operation_name,
                "document_sha256": self.document_sha256, "variables_sha256": self.variables_sha256}


def request_approval(*, binding: Binding, record: Any, rule: engine.Rule | None, reason: Any,
                     now: datetime) -> ApprovalRequest:
    """The pending request for this exact check: the one already waiting, else a new one
    (audited `approval.requested` and announced)."""
    same = ApprovalRequest.objects.filter(**binding.filter(), status=Status.PENDING)
    waiting = same.first()
    if waiting is not None and waiting.expires_at > now:
        return waiting
    if waiting is not None:
        expire_due(now=now, approval=waiting)  # a pending one past its expiry makes room for the new one
    try:
        return _create(binding, record, rule, reason, now)
    except IntegrityError:  # an identical check created it a moment ago
        return same.get()


def _create(binding: Binding, record: Any, rule: engine.Rule | None, reason: Any, now: datetime) -> ApprovalRequest:
    spec = (rule.approval if rule is not None else None) or engine.Approval()
    ttl = spec.expires_in_s or settings.GQLGOV_APPROVAL_TTL_S
    operation = record.operation or {}
    with transaction.atomic():
        approval = ApprovalRequest.objects.create(
            **binding.filter(), delegator_name=binding.delegator.name if binding.delegator else "",
            created_at=now, expires_at=now + timedelta(seconds=ttl), agent_name=record.agent_name,
            schema_version=record.schema_version, operation_type=operation.get("type") or "",
            root_fields=list(operation.get("root_fields") or []), document_redacted=record.document_redacted,
            variables_redacted=record.variables_redacted, metrics=record.metrics, rule=rule.id if rule else "",
            required_approvals=spec.approvers, approver_groups=list(spec.groups), reason=_reason_text(reason),
            decision_id=record.id,
        )
        record_event(actor=actor_for_principal(binding.principal), action="approval.requested", target=approval,
                     details={"schema": approval.schema_name, "operation": approval.operation_name,
                              "rule": approval.rule, "required_approvals": approval.required_approvals,
                              "expires_at": approval.expires_at.isoformat(), "decision_id": str(record.id),
                              **({"on_behalf_of": approval.delegator_name} if approval.delegator_name else {})})
        _announce_on_commit(approval, "requested")
    return approval


def _reason_text(reason: Any) -> str:
    """The agent's free-text justification, on one bounded line (anything else is not kept)."""
    if not isinstance(reason, str):
        return ""
    text = " ".join(reason.split())
    limit = settings.GQLGOV_APPROVAL_REASON_MAX_CHARS
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- people decide -------------------------------------------------------------------------


def decide_problem(user: Any, approval: ApprovalRequest) -> str | None:
    """Why `user` may not decide `approval` (None: they may)."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return "Only a signed-in person may decide approval requests."
    if approval.principal.owner_id == user.pk:
        return "The agent's owner may not decide its approval requests."
    if approval.delegator is not None and approval.delegator.user_id == user.pk:
        return "The person the agent acts for may not decide this approval request."
    if approval.approver_groups:
        if not set(approval.approver_groups) & _groups_of(user):
            return f"Rule {approval.rule!r} asks for approvers from {', '.join(approval.approver_groups)}."
    elif not roles.can(user, roles.APPROVE):
        return "Deciding approval requests needs the approver role."
    if ApprovalVote.objects.filter(request=approval, user=user).exists():
        return "You already decided this request; another person must decide now."
    return None


def _groups_of(user: Any) -> set[str]:
    """The user's identity-provider groups and those of the principal linked to them."""
    names = set(user.groups.values_list("name", flat=True))
    principal = Principal.objects.filter(user=user).first()
    return names | set(principal.groups if principal is not None else ())


def approval_decide(*, user: Any, approval: ApprovalRequest, decision: str, comment: str = "",
                    now: datetime | None = None) -> ApprovalRequest:
    """Records `user`'s approve or deny. The request is approved once enough distinct people
    approved, denied at the first deny. Raises PERMISSION_DENIED (403), APPROVAL_NOT_PENDING (409)."""
    now = now or timezone.now()
    if decision not in ("approve", "deny"):
        raise ApiError("VALIDATION_ERROR", "decision must be approve or deny.", status=422)
    problem = decide_problem(user, approval)
    if problem is not None:
        raise ApiError("PERMISSION_DENIED", problem, status=403)
    expire_due(now=now, approval=approval)
    comment = (comment or "").strip()[:MAX_COMMENT_CHARS]
    with transaction.atomic():
        try:
            with transaction.atomic():
                ApprovalVote.objects.create(request=approval, user=user, decision=decision, comment=comment,
                                            created_at=now)
        except IntegrityError as error:  # the same person, twice at once
            raise ApiError("PERMISSION_DENIED", "You already decided this request.", status=403) from error
        pending = ApprovalRequest.objects.filter(pk=approval.pk, status=Status.PENDING, expires_at__gt=now)
        if decision == "deny":
            changed = pending.update(status=Status.DENIED, decided_at=now, comment=comment)
        else:
            changed = pending.update(approvals=F("approvals") + 1)
            if changed:
                pending.filter(approvals__gte=F("required_approvals")).update(status=Status.APPROVED, decided_at=now)
        if changed != 1:
            raise _not_pending(approval)
        approval.refresh_from_db()
        action = "approval.denied" if decision == "deny" else "approval.approved"
        record_event(actor=actor_for_user(user), action=action, target=approval,
                     details={"comment": comment, "status": approval.status, "approvals": approval.approvals,
                              "required_approvals": approval.required_approvals})
        if approval.status != Status.PENDING:
            _announce_on_commit(approval, approval.status)
    return approval


def _not_pending(approval: ApprovalRequest) -> ApiError:
    approval.refresh_from_db(fields=["status"])
    return ApiError("APPROVAL_NOT_PENDING", f"Approval request {approval.pk} is {approval.status}; it cannot be"
                    " decided any more.", status=409, details={"status": approval.status})


# --- the agent uses it ---------------------------------------------------------------------


def approval_use(*, approval_id: Any, principal: Principal, decision_id: Any, now: datetime) -> bool:
    """Marks the approved, unexpired request used by decision `decision_id`: True for exactly one caller."""
    with transaction.atomic():
        used = ApprovalRequest.objects.filter(
            pk=approval_id, principal=principal, status=Status.APPROVED, expires_at__gt=now,
        ).update(status=Status.USED, used_at=now, used_by_decision=decision_id)
        if used == 1:
            record_event(actor=actor_for_principal(principal), action="approval.used",
                         target=("policies.approvalrequest", str(approval_id)),
                         details={"decision_id": str(decision_id)})
    return used == 1


def approval_release(*, approval_id: Any, principal: Principal, decision_id: Any,
                     why: str = "the rate limiter refused the check") -> None:
    """Gives back a use the check then did not admit (the agent got no allow): approved again."""
    with transaction.atomic():
        released = ApprovalRequest.objects.filter(
            pk=approval_id, status=Status.USED, used_by_decision=decision_id,
        ).update(status=Status.APPROVED, used_at=None, used_by_decision=None)
        if released == 1:
            record_event(actor=actor_for_principal(principal), action="approval.released",
                         target=("policies.approvalrequest", str(approval_id)),
                         details={"decision_id": str(decision_id), "why": why})


def expire_due(*, now: datetime, approval: ApprovalRequest | None = None) -> int:
    """Marks requests past their expiry (all, or `approval`) expired, each audited; how many."""
    due = ApprovalRequest.objects.filter(status__in=_ACTIVE, expires_at__lte=now)
    if approval is not None:
        due = due.filter(pk=approval.pk)
    expired = 0
    for pk in list(due.values_list("pk", flat=True)[:500]):
        with transaction.atomic():
            if ApprovalRequest.objects.filter(pk=pk, status__in=_ACTIVE, expires_at__lte=now).update(
                    status=Status.EXPIRED) == 1:
                expired += 1
                record_event(actor="system", action="approval.expired", target=("policies.approvalrequest", str(pk)),
                             details={"expired_at": now.isoformat()})
    if approval is not None and expired:
        approval.refresh_from_db()
    return expired


def approval_of_agent(principal: Principal, approval_id: Any) -> ApprovalRequest:
    """The agent's own request (NotFound for others' and unknown ids), expired when due."""
    approval = ApprovalRequest.objects.filter(pk=as_uuid(approval_id), principal=principal).first()
    if approval is None:
        raise NotFound("approval request")
    expire_due(now=timezone.now(), approval=approval)
    return approval


def as_uuid(text: Any) -> uuid.UUID | None:
    """`text` as a UUID, None when it is none (an unknown id, not a 500)."""
    try:
        return uuid.UUID(str(text))
    except ValueError:
        return None


def _announce_on_commit(approval: ApprovalRequest, event: str) -> None:
    # By name through Celery's registry (tasks.py imports this module); never blocks the caller.
    current_app.tasks[NOTIFY_TASK].apply_async_on_commit((str(approval.pk), event))
