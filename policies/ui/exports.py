"""Exports to API Gateway: targets, runs with their AWS calls, drift, "sync now", "roll back to N".

The export models and services belong to policies/gateway; every page here degrades to a
notice when that package is not installed.
"""

import importlib
from types import ModuleType

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from agents.audit import actor_for_user
from gqlgov import roles
from gqlgov.errors import ApiError
from policies.models import PolicyVersion
from policies.services import policy_rollback
from policies.ui.common import pretty, render_page, report


def export_models() -> ModuleType | None:
    try:
        return importlib.import_module("policies.gateway.models")
    except ImportError:
        return None


def _export_services() -> ModuleType:
    return importlib.import_module("policies.gateway.services")


@roles.requires(roles.VIEW)
def export_overview(request):
    models = export_models()
    targets = []
    if models is not None:
        for target in models.GatewayTarget.objects.select_related("schema", "schema__active_policy"):
            active = target.schema.active_policy
            targets.append(
                {
                    "target": target,
                    "runs": target.runs.select_related("policy_version")[:10],
                    "drift": target.drift_reports.select_related("policy_version").first(),
                    "rollback_to": PolicyVersion.objects.filter(
                        schema=target.schema, status=PolicyVersion.Status.APPROVED
                    )
                    .exclude(pk=active.pk if active else None)
                    .order_by("-number")[:20],
                    "active": active,
                }
            )
    return render_page(
        request,
        "gqlgov/exports/overview.html",
        "Exports",
        {
            "enabled": models is not None,
            "targets": targets,
            "crumbs": [("Exports", None)],
        },
    )


@require_POST
@roles.requires(roles.OPERATE_EXPORTS)
def target_action(request, target_id: int, action: str):
    models = export_models()
    if models is None or action not in ("sync", "rollback"):
        raise Http404("No such export action.")
    target = get_object_or_404(models.GatewayTarget.objects.select_related("schema"), pk=target_id)
    actor = actor_for_user(request.user)
    try:
        if action == "sync":
            version = target.schema.active_policy
            if version is None:
                raise ApiError("NO_ACTIVE_POLICY", f"{target.schema.name} has no active policy to export.", status=409)
            run = _export_services().export_request(actor=actor, target=target, version=version)
            messages.success(request, f"Export run #{run.pk} of v{version.number} to {target.name} is queued.")
        else:
            number = int(request.POST.get("version", "0") or 0)
            policy_rollback(actor=actor, schema=target.schema, number=number)
            messages.success(
                request,
                f"{target.schema.name} policy v{number} is active again; its export to every target is queued.",
            )
    except ApiError as exc:
        report(request, exc)
    except ValueError:
        messages.error(request, "Choose the version to roll back to.")
    return redirect(reverse("admin:gqlgov_exports") + f"#target-{target.pk}")


@roles.requires(roles.VIEW)
def run_detail(request, run_id: int):
    models = export_models()
    if models is None:
        raise Http404("Exports are not installed.")
    run = get_object_or_404(
        models.ExportRun.objects.select_related("target", "policy_version", "schema_version"), pk=run_id
    )
    return render_page(
        request,
        "gqlgov/exports/run.html",
        f"Export run #{run.pk}",
        {
            "run": run,
            "calls": run.calls.all()[:1000],
            "report_json": pretty(run.report),
            "changes_json": pretty(run.changes),
            "error_details": pretty(run.error_details) if run.error_details else "",
            "crumbs": [("Exports", reverse("admin:gqlgov_exports")), (f"Run #{run.pk}", None)],
        },
    )
