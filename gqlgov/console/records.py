"""The console's lists of records: agents, API tokens, decisions (and one decision), the audit
trail (and one event). Views parse the filter bar, call a selector and render; nothing writes."""

from django.shortcuts import get_object_or_404
from django.urls import NoReverseMatch, reverse

from agents import selectors as agent_selectors
from agents.audit import verify_chain
from agents.models import AuditEvent, Principal
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
from policies.models import Decision, PolicyVersion


def _list(request, template: str, title: str, form, items, rows_of=None, **context):
    """One page of `items` under the filter bar `form`; `rows` are the page's items, or `rows_of(them)`."""
    page, query = paged(request, items)
    rows = rows_of(list(page.object_list)) if rows_of else list(page.object_list)
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


# The console page of an event's object, by its audit type: (URL name, how its args come from the id).
_DIRECT_PAGES = {
    "policies.decision": "admin:gqlgov_decision",
    "policies.exportrun": "admin:gqlgov_export_run",
    "policies.approvalrequest": "admin:gqlgov_approval",
}


def object_pages(events: list[AuditEvent]) -> dict[tuple[str, str], str]:
    """The console page of each event's object where it has one (one query per looked-up type)."""
    pages: dict[tuple[str, str], str] = {}
    wanted: dict[str, set[str]] = {}
    for event in events:
        wanted.setdefault(event.target_type, set()).add(event.target_id)
    for target_type, url_name in _DIRECT_PAGES.items():
        for target_id in wanted.get(target_type, ()):
            try:
                pages[(target_type, target_id)] = reverse(url_name, args=[target_id])
            except NoReverseMatch:  # an id the URL does not take (a malformed one): no link
                continue
    ids = [int(i) for i in wanted.get("agents.principal", ()) if i.isdigit() and len(i) < 12]
    for pk, name in Principal.objects.filter(pk__in=ids).values_list("pk", "name"):
        pages[("agents.principal", str(pk))] = reverse("admin:gqlgov_agent", args=[name])
    ids = [int(i) for i in wanted.get("policies.policyversion", ()) if i.isdigit() and len(i) < 12]
    for pk, schema, number in PolicyVersion.objects.filter(pk__in=ids).values_list("pk", "schema__name", "number"):
        pages[("policies.policyversion", str(pk))] = reverse("admin:gqlgov_policy", args=[schema, number])
    return pages


@roles.requires(roles.VIEW)
def audit_list(request):
    form = AuditFilterForm(request.GET, **agent_selectors.audit_choices())

    def rows_of(events: list[AuditEvent]) -> list[tuple]:
        pages = object_pages(events)
        return [
            (event, one_line(_shown(request.user, event.details)), pages.get((event.target_type, event.target_id)))
            for event in events
        ]

    return _list(
        request,
        "gqlgov/records/audit.html",
        "Audit trail",
        form,
        agent_selectors.audit_events(form.selection()),
        rows_of=rows_of,
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
            "object_page": object_pages([event]).get((event.target_type, event.target_id)),
            "crumbs": [("Audit trail", reverse("admin:gqlgov_audit")), (f"#{event.pk}", None)],
        },
    )
