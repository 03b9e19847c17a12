"""Admin for the schema registry, policy versions and decisions (the export's: policies/gateway/admin.py).

Lists are plain Django admin changelists; the work happens on the custom pages in
gqlgov/console (schema, operation and rule editing, review, simulator, exports), which this
module's AdminSite (gqlgov/console/site.py) mounts. Nothing here writes: the registry and the
decision log are append-only, and policies change only through policies.services.drafts/services.
"""

from datetime import timedelta

from django.contrib import admin
from django.db.models import TextField
from django.db.models.functions import Cast
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from gqlgov import roles
from gqlgov.display import pretty
from policies.engine import reasons as reason_codes
from policies.models import Decision, PolicyVersion, Schema

REASON_CODES = sorted(
    value for name, value in vars(reason_codes).items() if name.isupper() and isinstance(value, str) and value == name
)


@admin.register(Schema)
class SchemaAdmin(roles.RoleAdminMixin, admin.ModelAdmin):
    list_display = ("name_link", "latest", "active")
    search_fields = ("name",)

    @admin.display(description="Schema", ordering="name")
    def name_link(self, obj: Schema):
        return format_html('<a href="{}">{}</a>', reverse("admin:gqlgov_schema", args=[obj.name]), obj.name)

    @admin.display(description="Latest schema version")
    def latest(self, obj: Schema) -> str:
        return f"v{obj.latest_version.number}" if obj.latest_version_id else "—"

    @admin.display(description="Active policy")
    def active(self, obj: Schema) -> str:
        return f"v{obj.active_policy.number}" if obj.active_policy_id else "none"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("latest_version", "active_policy")


@admin.register(PolicyVersion)
class PolicyVersionAdmin(roles.RoleAdminMixin, admin.ModelAdmin):
    """Every policy version; open one to review, approve or reject it."""

    list_display = ("version_link", "schema", "status_badge", "author", "approver", "updated_at")
    list_filter = ("status", "schema")
    search_fields = ("schema__name",)

    @admin.display(description="Version", ordering="number")
    def version_link(self, obj: PolicyVersion):
        url = reverse("admin:gqlgov_policy", args=[obj.schema.name, obj.number])
        return format_html('<a href="{}">{} v{}</a>', url, obj.schema.name, obj.number)

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj: PolicyVersion):
        return format_html('<span class="gg-badge gg-{}">{}</span>', obj.status, obj.get_status_display())

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("schema", "author", "approver")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        version = self.get_object(request, object_id)
        if version is not None:
            from django.shortcuts import redirect

            return redirect("admin:gqlgov_policy", version.schema.name, version.number)
        return super().change_view(request, object_id, form_url, extra_context)


class ReasonFilter(admin.SimpleListFilter):
    title = "reason"
    parameter_name = "reason"

    def lookups(self, request, model_admin):
        return [(code, code) for code in REASON_CODES]

    def queryset(self, request, queryset):
        if self.value() in REASON_CODES:
            return queryset.annotate(reasons_text=Cast("reasons", TextField())).filter(
                reasons_text__contains=f'"{self.value()}"'
            )
        return queryset


class RecentFilter(admin.SimpleListFilter):
    title = "time"
    parameter_name = "since"
    _windows = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7)}

    def lookups(self, request, model_admin):
        return [("1h", "Last hour"), ("24h", "Last 24 hours"), ("7d", "Last 7 days")]

    def queryset(self, request, queryset):
        window = self._windows.get(self.value() or "")
        return queryset.filter(created_at__gte=timezone.now() - window) if window else queryset


@admin.register(Decision)
class DecisionAdmin(roles.RoleAdminMixin, admin.ModelAdmin):
    """The decision log; variables and document are stored redacted, so viewers may read them."""

    list_display = (
        "created_at",
        "agent_name",
        "operation",
        "decision_badge",
        "reason_codes",
        "policy",
        "client_ip",
    )
    list_filter = ("decision", ReasonFilter, RecentFilter, "schema_name", "agent_name", "operation_type")
    search_fields = ("agent_name", "operation_name", "=id")
    date_hierarchy = "created_at"
    list_per_page = 50
    fields = (
        "id",
        "created_at",
        "agent_name",
        "schema_name",
        "schema_version",
        "policy_version",
        "operation_name",
        "operation_type",
        "root_fields",
        "decision_badge",
        "reasons_pretty",
        "metrics_pretty",
        "client_ip",
        "variables_pretty",
        "document_pretty",
        "document_hash",
        "undeclared_variables",
    )
    readonly_fields = fields

    @admin.display(description="Operation")
    def operation(self, obj: Decision):
        fields = ", ".join(obj.root_fields) or obj.operation_name or "—"
        return format_html("<code>{} {}</code>", obj.operation_type, fields)

    @admin.display(description="Decision", ordering="decision")
    def decision_badge(self, obj: Decision):
        return format_html('<span class="gg-badge gg-{}">{}</span>', obj.decision, obj.decision)

    @admin.display(description="Reasons")
    def reason_codes(self, obj: Decision):
        return (
            format_html_join(
                " ",
                '<span class="gg-chip" title="{}">{}</span>',
                ((r.get("message", ""), r.get("code", "")) for r in obj.reasons if isinstance(r, dict)),
            )
            or "—"
        )

    @admin.display(description="Policy")
    def policy(self, obj: Decision) -> str:
        return f"{obj.schema_name} v{obj.policy_version}" if obj.policy_version else obj.schema_name or "—"

    @admin.display(description="Reasons")
    def reasons_pretty(self, obj: Decision):
        return format_html('<pre class="gg-pre">{}</pre>', pretty(obj.reasons))

    @admin.display(description="Metrics")
    def metrics_pretty(self, obj: Decision):
        return format_html('<pre class="gg-pre">{}</pre>', pretty(obj.metrics))

    @admin.display(description="Variables (redacted)")
    def variables_pretty(self, obj: Decision):
        return format_html('<pre class="gg-pre">{}</pre>', pretty(obj.variables_redacted))

    @admin.display(description="Document (redacted)")
    def document_pretty(self, obj: Decision):
        return format_html('<pre class="gg-pre gg-code">{}</pre>', obj.document_redacted or "—")
