"""The filter bars of the console's lists (GET forms with a label on every control) and paging.

A filter that does not validate narrows nothing and says why beside its control: a list page
never fails on a bad query string.
"""

from datetime import datetime, timedelta
from typing import Any

from django import forms
from django.core.paginator import Page, Paginator
from django.http import HttpRequest
from django.utils import timezone

from agents.models import Principal
from agents.selectors import TOKEN_STATES, AuditFilter
from policies.selectors import REASON_CODES, DecisionFilter

PER_PAGE = 50
WINDOWS = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
WINDOW_CHOICES = [
    ("", "Any time"),
    ("1h", "Last hour"),
    ("24h", "Last 24 hours"),
    ("7d", "Last 7 days"),
    ("30d", "Last 30 days"),
]


def _choices(values: list[str], anything: str) -> list[tuple[str, str]]:
    return [("", anything), *((value, value) for value in values)]


def _with(values: list[str], asked: str) -> list[str]:
    return values if not asked or asked in values else sorted([*values, asked])


class TimeFilterForm(forms.Form):
    """A window ending now, or a From/Until range (local time of the server's zone)."""

    since = forms.ChoiceField(label="Time", choices=WINDOW_CHOICES, required=False)
    start = forms.DateTimeField(
        label="From", required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    end = forms.DateTimeField(
        label="Until", required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )

    def time_range(self) -> tuple[datetime | None, datetime | None]:
        data = self.cleaned_data
        start, end = data.get("start"), data.get("end")
        if data.get("since") in WINDOWS:
            start = max(filter(None, [start, timezone.now() - WINDOWS[data["since"]]]))
        return start, end


class DecisionFilterForm(TimeFilterForm):
    agent_name = forms.ChoiceField(label="Agent", required=False)
    schema_name = forms.ChoiceField(label="Schema", required=False)
    decision = forms.ChoiceField(
        label="Decision",
        required=False,
        choices=[("", "Any decision"), ("allow", "allow"), ("deny", "deny"), ("pending_approval", "pending approval")],
    )
    reason = forms.ChoiceField(label="Reason code", required=False, choices=_choices(REASON_CODES, "Any reason"))
    field_order = ["agent_name", "schema_name", "decision", "reason", "since", "start", "end"]

    def __init__(self, data, *, agents: list[str], schemas: list[str]):
        super().__init__(data)
        # A name asked for (an agent's "all decisions" link) is a choice even with no decision yet.
        asked = {name: str(data.get(name, ""))[:100] for name in ("agent_name", "schema_name")}
        self.fields["agent_name"].choices = _choices(_with(agents, asked["agent_name"]), "Any agent")
        self.fields["schema_name"].choices = _choices(_with(schemas, asked["schema_name"]), "Any schema")

    def selection(self) -> DecisionFilter:
        data = valid(self)
        start, end = self.time_range()
        return DecisionFilter(
            agent=data.get("agent_name", ""),
            schema=data.get("schema_name", ""),
            decision=data.get("decision", ""),
            reason=data.get("reason", ""),
            start=start,
            end=end,
        )


class AuditFilterForm(TimeFilterForm):
    actor = forms.CharField(
        label="Actor", required=False, max_length=200, help_text="e.g. user:ada, agent:support-bot, system"
    )
    action = forms.ChoiceField(label="Action", required=False)
    target_type = forms.ChoiceField(label="Object type", required=False)
    target_id = forms.CharField(label="Object ID", required=False, max_length=200)
    field_order = ["actor", "action", "target_type", "target_id", "since", "start", "end"]

    def __init__(self, data, *, actions: list[str], target_types: list[str]):
        super().__init__(data)
        families = sorted({action.split(".", 1)[0] + "." for action in actions if "." in action})
        self.fields["action"].choices = [
            ("", "Any action"),
            ("Families", [(family, f"{family}*") for family in families]),
            ("Actions", [(action, action) for action in actions]),
        ]
        self.fields["target_type"].choices = _choices(target_types, "Any object")

    def selection(self) -> AuditFilter:
        data = valid(self)
        start, end = self.time_range()
        return AuditFilter(
            actor=data.get("actor", "").strip(),
            action=data.get("action", ""),
            target_type=data.get("target_type", ""),
            target_id=data.get("target_id", "").strip(),
            start=start,
            end=end,
        )


class AgentFilterForm(forms.Form):
    q = forms.CharField(label="Name or OIDC subject", required=False, max_length=200)
    kind = forms.ChoiceField(label="Kind", required=False, choices=[("", "Any kind"), *Principal.Kind.choices])
    status = forms.ChoiceField(label="Status", required=False, choices=[("", "Any status"), *Principal.Status.choices])


class TokenFilterForm(forms.Form):
    principal = forms.CharField(label="Agent", required=False, max_length=100)
    state = forms.ChoiceField(
        label="State", required=False, choices=[("", "Any state"), *((state, state) for state in TOKEN_STATES)]
    )


def valid(form: forms.Form) -> dict[str, Any]:
    """The fields that validated (the others are dropped, with their errors shown)."""
    form.is_valid()
    return {name: value for name, value in getattr(form, "cleaned_data", {}).items() if value not in (None, "")}


def paged(request: HttpRequest, items) -> tuple[Page, str]:
    """The requested page of `items` (the last one past the end) and the query string without
    `page`, for the pager's links."""
    page = Paginator(items, PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return page, query.urlencode()
