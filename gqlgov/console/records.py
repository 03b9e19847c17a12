"""The console's lists of records: agents, API tokens, decisions (and one decision), the audit
trail (and one event). Views parse the filter bar, call a selector and render; nothing writes."""

from django.shortcuts import get_object_or_404
from django.urls import reverse

from agents import selectors as agent_selectors
from agents.audit import verify_chain
from agents.models import AuditEvent
from agents.tokens import without_token_prefixes
from gqlgov import roles
from gqlgov.console.common import render_page
from gqlgov.console.filters import (
    AgentFilterForm,
    AuditFilterForm,
    DecisionFilterForm,
    TokenFilterForm,
    paged,
    valid,
)
from gqlgov.display import one_line
from policies import selectors as policy_selectors
from policies.models import Decision


def _list(request, template: str, title: str, form, items, row=None, **context):
    """One page of `items` under the filter bar `form`; `rows` are the items, or `row(item)`."""
    page, query = paged(request, items)
    rows = [row(item) for item in page.object_list] if row else list(page.object_list)
    return render_page(
        request,
        template,
        title,
        {"form": form, "page": page, "rows": rows, "query": query, "crumbs": [(title, None)], **context},
    )


@roles.requires(roles.VIEW)
def agent_list(request):
    form = AgentFilterForm(request.GET)
    data = valid(form)
    items = agent_selectors.principals(
        kind=data.get("kind", ""), status=data.get("status", ""), search=data.get("q", "")
    )
    return _list(request, "gqlgov/records/agents.html", "Agents", form, items)


@roles.requires(roles.VIEW_SECRETS)
def token_list(request):
    form = TokenFilterForm(request.GET)
    data = valid(form)
    items = agent_selectors.tokens(principal=data.get("principal", ""), state=data.get("state", ""))
    return _list(request, "gqlgov/records/tokens.html", "API tokens", form, items)


@roles.requires(roles.VIEW)
def decision_list(request):
    choices = policy_selectors.decision_choices()
    form = DecisionFilterForm(request.GET, agents=choices["agents"], schemas=choices["schemas"])
    items = policy_selectors.decisions(form.selection())
    return _list(request, "gqlgov/records/decisions.html", "Decisions", form, items)


@roles.requires(roles.VIEW)
def decision_detail(request, decision_id):
    decision = get_object_or_404(Decision.objects.select_related("principal"), pk=decision_id)
    return render_page(
        request,
        "gqlgov/records/decision.html",
        f"Decision {decision.decision}: {decision.agent_name}, {decision.operation_type} "
        f"{decision.operation_name or ', '.join(decision.root_fields) or '(anonymous)'}",
        {
            "d": decision,
            "reasons": [reason for reason in decision.reasons if isinstance(reason, dict)],
            "crumbs": [("Decisions", reverse("admin:gqlgov_decisions")), (str(decision.pk)[:8], None)],
        },
    )


def _shown(user, details: dict) -> dict:
    """An event's details as `user` may see them: token prefixes hidden without VIEW_SECRETS."""
    return details if roles.can(user, roles.VIEW_SECRETS) else without_token_prefixes(details)


@roles.requires(roles.VIEW)
def audit_list(request):
    form = AuditFilterForm(request.GET, **agent_selectors.audit_choices())
    return _list(
        request,
        "gqlgov/records/audit.html",
        "Audit trail",
        form,
        agent_selectors.audit_events(form.selection()),
        row=lambda event: (event, one_line(_shown(request.user, event.details))),
        chain=verify_chain(),
    )


@roles.requires(roles.VIEW)
def audit_detail(request, event_id: int):
    event = get_object_or_404(AuditEvent, pk=event_id)
    return render_page(
        request,
        "gqlgov/records/audit_event.html",
        f"Audit event #{event.pk}: {event.action}",
        {
            "event": event,
            "details": _shown(request.user, event.details),
            "crumbs": [("Audit trail", reverse("admin:gqlgov_audit")), (f"#{event.pk}", None)],
        },
    )
