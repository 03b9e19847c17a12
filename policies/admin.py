"""Admin for the schema registry, policy versions and decisions (the export's: policies/gateway/admin.py).

Schemas and versions are plain Django admin changelists; decisions are console pages. The work
happens on the custom pages in gqlgov/console (schema, operation and rule editing, review, simulator,
exports), which this module's AdminSite (gqlgov/console/site.py) mounts. Nothing here writes: the registry and the
decision log are append-only, and policies change only through policies.services.drafts/services.
"""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from gqlgov import roles
from gqlgov.admin_redirects import ConsolePagesMixin
from policies.models import Decision, PolicyVersion, Schema


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


@admin.register(Decision)
class DecisionAdmin(ConsolePagesMixin, roles.RoleAdminMixin, admin.ModelAdmin):
    """The decision log is the console's: its list (admin:gqlgov_decisions) and each decision's page."""

    console_list = "admin:gqlgov_decisions"
    console_detail = "admin:gqlgov_decision"
