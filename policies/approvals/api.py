"""The approvals API: the agent polls its own requests; staff list them and people decide.

GET /api/v1/approvals (`list_approvals`, staff), GET /api/v1/approvals/{id} (`get_approval`: the
agent's own, or any for staff), POST /api/v1/approvals/{id} (`decide_approval`: a person's
approve or deny, with a comment)."""

from typing import Any, Literal

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema

from agents.auth import AgentAuth, StaffAuth, is_api_staff
from gqlgov.errors import ApiError, NotFound
from policies.approvals import gate, selectors, services
from policies.models import ApprovalRequest

router = Router(tags=["approvals"])


class ApprovalFilters(Schema):
    schema_name: str | None = Field(None, alias="schema", max_length=100)
    agent: str | None = Field(None, max_length=100)
    rule: str | None = Field(None, max_length=100)
    status: ApprovalRequest.Status | None = None
    limit: int = Field(100, ge=1, le=500)


class DecisionIn(Schema):
    decision: Literal["approve", "deny"]
    comment: str = Field("", max_length=services.MAX_COMMENT_CHARS)


def detail(approval: ApprovalRequest, *, staff: bool) -> dict[str, Any]:
    """An approval request as the API shows it (staff also see what people decided)."""
    body: dict[str, Any] = {
        **gate.summary(approval),
        "created_at": approval.created_at.isoformat(),
        "agent": approval.agent_name,
        "on_behalf_of": approval.delegator_name or None,
        "schema": approval.schema_name,
        "policy_version": approval.policy_version,
        "operation": {"name": approval.operation_name or None, "type": approval.operation_type or None,
                      "root_fields": approval.root_fields},
        "rule": approval.rule,
        "required_approvals": approval.required_approvals,
        "approvals": approval.approvals,
        "document_sha256": approval.document_sha256,
        "variables_sha256": approval.variables_sha256,
        "reason": approval.reason,
        "decided_at": approval.decided_at.isoformat() if approval.decided_at else None,
        "comment": approval.comment,
    }
    if staff:
        body["document"] = approval.document_redacted
        body["variables"] = approval.variables_redacted
        body["metrics"] = approval.metrics
        body["approver_groups"] = approval.approver_groups
        body["votes"] = [{"by": vote.user.get_username(), "decision": vote.decision, "comment": vote.comment,
                          "at": vote.created_at.isoformat()} for vote in approval.votes.select_related("user")]
    return body


@router.get("/approvals", auth=StaffAuth(), operation_id="list_approvals")
def list_approvals(request: HttpRequest, filters: Query[ApprovalFilters]):
    """Approval requests, oldest first (pending ones by default), filtered by schema, agent, rule."""
    services.expire_due(now=timezone.now())
    found = selectors.approval_queue(schema=filters.schema_name, agent=filters.agent, rule=filters.rule,
                                     status=filters.status or ApprovalRequest.Status.PENDING)
    return {"approvals": [detail(approval, staff=True) for approval in found[: filters.limit]]}


def _visible(request: HttpRequest, approval_id: str) -> tuple[ApprovalRequest, bool]:
    """The request the caller may see (staff: any; an agent: its own, others' are 404)."""
    principal = request.identity.principal
    staff = is_api_staff(principal)
    if staff:
        approval = ApprovalRequest.objects.filter(pk=services.as_uuid(approval_id)).first()
        if approval is None:
            raise NotFound("approval request")
        services.expire_due(now=timezone.now(), approval=approval)
        return approval, True
    return services.approval_of_agent(principal, approval_id), False


@router.get("/approvals/{approval_id}", auth=AgentAuth(), operation_id="get_approval")
def get_approval(request: HttpRequest, approval_id: str):
    """One approval request: an agent polls its own (others' are 404); staff see any."""
    approval, staff = _visible(request, approval_id)
    return detail(approval, staff=staff)


@router.post("/approvals/{approval_id}", auth=StaffAuth(), operation_id="decide_approval")
def decide_approval(request: HttpRequest, approval_id: str, payload: DecisionIn):
    """A person approves or denies the request, with a comment (the signed-in human behind the token)."""
    approval, _staff = _visible(request, approval_id)
    user = request.identity.principal.user if request.identity.principal.user_id else None
    if user is None:
        raise ApiError("PERMISSION_DENIED", "Only a person (a principal linked to an admin login) may decide.",
                       status=403)
    approval = services.approval_decide(user=user, approval=approval, decision=payload.decision,
                                        comment=payload.comment)
    return detail(approval, staff=True)
