"""Reads of approval requests shared by the API and the console."""

from django.db.models import QuerySet

from policies.models import ApprovalRequest, Decision


def approval_queue(*, schema: str | None = None, agent: str | None = None, rule: str | None = None,
                   status: str | None = ApprovalRequest.Status.PENDING) -> QuerySet[ApprovalRequest]:
    """Approval requests oldest first, narrowed by each filter given."""
    found = ApprovalRequest.objects.select_related("principal").order_by("created_at")
    if status:
        found = found.filter(status=status)
    if schema:
        found = found.filter(schema_name=schema)
    if agent:
        found = found.filter(agent_name=agent)
    if rule:
        found = found.filter(rule=rule)
    return found


def pending_count() -> int:
    return ApprovalRequest.objects.filter(status=ApprovalRequest.Status.PENDING).count()


def recent_decisions(approval: ApprovalRequest, limit: int = 20) -> QuerySet[Decision]:
    """The agent's latest decisions, for a reviewer to judge the request by."""
    return Decision.objects.filter(principal_id=approval.principal_id)[:limit]
