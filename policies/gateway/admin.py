"""Read-only changelists of gateway targets and export runs (created by `create_gateway_target`
and approvals). A run's page is the console's (admin:gqlgov_export_run), with its AWS calls."""

from django.contrib import admin
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.html import format_html

from gqlgov import roles
from policies.gateway.models import ExportRun, GatewayTarget


@admin.register(GatewayTarget)
class GatewayTargetAdmin(roles.RoleAdminMixin, admin.ModelAdmin):
    list_display = (
        "name",
        "schema",
        "region",
        "stage_name",
        "rest_api_id",
        "auth_mode",
        "enforcement",
        "auto_heal",
        "enabled",
    )
    list_filter = ("schema", "enforcement", "enabled", "auto_heal")
    search_fields = ("name",)


@admin.register(ExportRun)
class ExportRunAdmin(roles.RoleAdminMixin, admin.ModelAdmin):
    list_display = (
        "run_link",
        "target",
        "policy_version",
        "status",
        "trigger",
        "requested_by",
        "created_at",
        "mutating_calls",
    )
    list_filter = ("status", "trigger", "target")

    @admin.display(description="Run")
    def run_link(self, obj):
        return format_html('<a href="{}">#{}</a>', reverse("admin:gqlgov_export_run", args=[obj.pk]), obj.pk)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        return redirect("admin:gqlgov_export_run", object_id)
