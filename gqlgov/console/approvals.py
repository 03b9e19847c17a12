"""The approval queue and each request's page: people approve or deny one agent's operation."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from gqlgov import roles
from gqlgov.console.common import render_page, report
from gqlgov.console.forms import ReviewForm
from gqlgov.errors import ApiError
from policies.approvals import selectors, services
from policies.models import ApprovalRequest

_QUEUE_FILTERS = ("schema", "agent", "rule")


@roles.requires(roles.VIEW)
def approval_list(request):
    """Pending requests oldest first (or another status), filtered by schema, agent and rule."""
    services.expire_due(now=timezone.now())
    filters = {key: request.GET.get(key, "").strip()[:100] for key in _QUEUE_FILTERS}
    status = request.GET.get("status") or ApprovalRequest.Status.PENDING
    if status not in ApprovalRequest.Status.values:
        status = ApprovalRequest.Status.PENDING
    queue = selectors.approval_queue(**{key: value or None for key, value in filters.items()}, status=status)
    return render_page(request, "gqlgov/approvals/list.html", "Approvals", {
        "queue": queue[:200], "filters": filters, "status": status, "statuses": ApprovalRequest.Status.choices,
        "crumbs": [("Approvals", None)],
    })


def _approval(approval_id) -> ApprovalRequest:
    approval = ApprovalRequest.objects.select_related("principal").filter(pk=services.as_uuid(approval_id)).first()
    if approval is None:
        raise Http404("No such approval request.")
    return approval


@roles.requires(roles.VIEW)
def approval_detail(request, approval_id, status: int = 200):
    approval = _approval(approval_id)
    services.expire_due(now=timezone.now(), approval=approval)
    problem = services.decide_problem(request.user, approval)
    return render_page(request, "gqlgov/approvals/detail.html", f"Approval request of {approval.agent_name}", {
        "approval": approval,
        "votes": approval.votes.select_related("user"),
        "decisions": selectors.recent_decisions(approval),
        "may_decide": approval.status == ApprovalRequest.Status.PENDING and problem is None,
        "why_not": problem,
        "form": ReviewForm(),
        "crumbs": [("Approvals", reverse("admin:gqlgov_approvals")), (str(approval.pk)[:8], None)],
    }, status=status)


@require_POST
@roles.requires(roles.VIEW)
def approval_decide(request, approval_id, decision: str):
    approval = _approval(approval_id)
    if decision not in ("approve", "deny"):
        raise Http404("Unknown decision.")
    try:
        approval = services.approval_decide(user=request.user, approval=approval, decision=decision,
                                            comment=request.POST.get("comment", ""))
    except ApiError as exc:
        report(request, exc)
        if exc.status == 403:
            return approval_detail(request, approval_id, status=403)
    else:
        messages.success(request, f"You {'approved' if decision == 'approve' else 'denied'} the request;"
                                  f" it is now {approval.get_status_display().lower()}.")
    return redirect("admin:gqlgov_approval", approval.pk)
