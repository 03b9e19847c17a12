"""The overview (admin index): health per schema, exports, and what agents did in the last 24 hours."""

from collections import Counter
from datetime import timedelta
from typing import Any

from django.db.models import Count
from django.db.models.functions import TruncHour
from django.urls import reverse
from django.utils import timezone

from gqlgov import roles
from gqlgov.console.common import render_page
from policies.approvals import selectors as approval_selectors
from policies.gateway import selectors as gateway_selectors
from policies.gateway.models import ExportRun, GatewayTarget
from policies.models import Decision, PolicyVersion, Schema
from policies.selectors import policy_coverage
from policies.services import drafts

CHART_HOURS = 24
CHART_WIDTH, CHART_HEIGHT, CHART_PAD = 1000, 170, 28
SERIES = (("allow", "var(--gg-allow)"), ("pending_approval", "var(--gg-pending)"), ("deny", "var(--gg-deny)"))
# Reasons of at most this many recent denies are counted for "top deny reasons".
MAX_DENIES_SCANNED = 20000


def decision_chart(since, now) -> dict[str, Any]:
    """Stacked hourly bars (allow / pending / deny) as SVG rectangles, computed here: no JS, no CDN."""
    start = since.replace(minute=0, second=0, microsecond=0)
    hours = [start + timedelta(hours=h) for h in range(CHART_HOURS + 1)]
    counts: dict[Any, Counter] = {hour: Counter() for hour in hours}
    rows = (
        Decision.objects.filter(created_at__gte=start)
        .annotate(hour=TruncHour("created_at"))
        .values("hour", "decision")
        .annotate(n=Count("id"))
    )
    for row in rows:
        hour = row["hour"]
        if hour in counts:
            counts[hour][row["decision"]] += row["n"]
    peak = max((sum(c.values()) for c in counts.values()), default=0) or 1
    plot_w, plot_h = CHART_WIDTH - CHART_PAD, CHART_HEIGHT - 30
    slot = plot_w / len(hours)
    bars, labels = [], []
    for index, hour in enumerate(hours):
        x = CHART_PAD + index * slot + 1
        y = plot_h
        for series, colour in SERIES:
            value = counts[hour][series]
            if not value:
                continue
            height = value / peak * (plot_h - 8)
            y -= height
            bars.append(
                {
                    "x": round(x, 1),
                    "y": round(y, 1),
                    "w": round(slot - 2, 1),
                    "h": round(height, 1),
                    "fill": colour,
                    "title": f"{timezone.localtime(hour):%H:00} {series}: {value}",
                }
            )
        if index % 3 == 0 and index < CHART_HOURS:
            labels.append({"x": round(x + slot / 2, 1), "text": f"{timezone.localtime(hour):%H:%M}"})
    totals = Counter()
    for c in counts.values():
        totals.update(c)
    return {
        "bars": bars,
        "labels": labels,
        "peak": peak,
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "axis_y": round(plot_h, 1),
        "pad": CHART_PAD,
        "totals": totals,
        "label_y": round(plot_h + 16, 1),
    }


def top_deny_reasons(since) -> list[tuple[str, int]]:
    """Every reason code of recent denies with its count, most frequent first. All of them: the
    engine's reason codes are a short fixed list, and a cut list hid the rarer ones."""
    counter: Counter = Counter()
    denies = Decision.objects.filter(created_at__gte=since, decision="deny").values_list("reasons", flat=True)
    for reasons in denies[:MAX_DENIES_SCANNED]:
        counter.update({r.get("code") for r in reasons or [] if isinstance(r, dict) and r.get("code")})
    return counter.most_common()


def first_rule_guide(schemas: list[Schema]) -> list[dict[str, Any]] | None:
    """The steps to a first active rule, each with whether it is done and where to do it, while no
    schema has an active policy (an empty installation); None once one has."""
    if any(schema.active_policy_id for schema in schemas):
        return None
    schema = next((schema for schema in schemas if schema.latest_version_id), None)
    draft = drafts.open_version(schema) if schema else None
    rules = (draft.document.get("rules") or []) if draft else []
    operations = list(schema.latest_version.operations) if schema else []
    steps = [
        ("Register a schema", "Paste its SDL (or run manage.py register_schema NAME FILE.graphql).",
         schema is not None, reverse("admin:gqlgov_schema_register")),
        ("Add a first rule", "Open an operation and say which agents may call it, and under what limits.",
         bool(rules),
         reverse("admin:gqlgov_rule_add", args=[schema.name, operations[0]]) if operations and schema else None),
        ("Try it in the simulator", "See the decision an agent would get for a query, with the draft.",
         False, reverse("admin:gqlgov_simulator") + (f"?schema={schema.name}&version=draft" if schema else "")),
        ("Submit it for review", "Another person with the approver role approves it; it is then active.",
         bool(draft and draft.status == PolicyVersion.Status.IN_REVIEW),
         reverse("admin:gqlgov_policy", args=[schema.name, draft.number]) if draft and schema else None),
    ]
    return [{"title": title, "how": how, "done": done, "url": url} for title, how, done, url in steps]


def top_agents(since, limit: int = 6) -> list[dict[str, Any]]:
    rows = Decision.objects.filter(created_at__gte=since).values("agent_name", "decision").annotate(n=Count("id"))
    agents: dict[str, Counter] = {}
    for row in rows:
        agents.setdefault(row["agent_name"], Counter())[row["decision"]] += row["n"]
    ranked = sorted(agents.items(), key=lambda item: -sum(item[1].values()))[:limit]
    return [
        {
            "name": name,
            "total": sum(c.values()),
            "allow": c["allow"],
            "deny": c["deny"],
            "pending": c["pending_approval"],
        }
        for name, c in ranked
    ]


def _schema_health(schema: Schema) -> dict[str, Any]:
    health: dict[str, Any] = {
        "schema": schema,
        "open": drafts.open_version(schema),
        "coverage": None,
        "error": "",
    }
    if schema.latest_version_id:
        try:
            health["coverage"] = policy_coverage(schema.active_policy, schema.latest_version)
        except Exception as exc:
            health["error"] = f"Coverage unavailable: {exc}"
    health["in_review"] = schema.policy_versions.filter(status=PolicyVersion.Status.IN_REVIEW).count()
    health["targets"] = _targets(schema)
    return health


def _targets(schema: Schema) -> list[dict[str, Any]]:
    result = []
    for target in GatewayTarget.objects.filter(schema=schema):
        last = ExportRun.objects.filter(target=target).select_related("policy_version").first()
        result.append({"target": target, "last": last, "sync": gateway_selectors.sync_status(target, last)})
    return result


@roles.requires(roles.VIEW)
def overview(request):
    now = timezone.now()
    since = now - timedelta(hours=CHART_HOURS)
    schemas = list(Schema.objects.select_related("latest_version", "active_policy").order_by("name"))
    deny_reasons = top_deny_reasons(since)
    agents = top_agents(since)
    return render_page(
        request,
        "gqlgov/overview.html",
        "Overview",
        {
            "health": [_schema_health(schema) for schema in schemas],
            "guide": first_rule_guide(schemas),
            "chart": decision_chart(since, now),
            "deny_reasons": deny_reasons,
            "deny_peak": max((n for _, n in deny_reasons), default=1),
            "agents": agents,
            "agent_peak": max((a["total"] for a in agents), default=1),
            "pending_reviews": PolicyVersion.objects.filter(status=PolicyVersion.Status.IN_REVIEW).count(),
            "pending_approvals": approval_selectors.pending_count(),
            "crumbs": [],
        },
    )
