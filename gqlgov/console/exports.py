"""Exports to API Gateway: targets, runs with their AWS calls, drift, "sync now", "roll back to N".

The export models and services are the gateway app's (policies/gateway).
"""

from django.contrib import messages
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from agents.audit import actor_for_user
from gqlgov import roles
from gqlgov.console.common import render_page, report
from gqlgov.errors import ApiError
from policies.gateway.models import ExportRun, GatewayTarget
from policies.gateway.selectors import IAC_FILES, iac_file, refusal, run_progress
from policies.gateway.services import export_request
from policies.models import PolicyVersion
from policies.services import policy_rollback


@roles.requires(roles.VIEW)
def export_overview(request):
    targets = []
    for target in GatewayTarget.objects.select_related("schema", "schema__active_policy"):
        active = target.schema.active_policy
        targets.append(
            {
                "target": target,
                "runs": target.runs.select_related("policy_version")[:10],
                "drift": target.drift_reports.select_related("policy_version").first(),
                "rollback_to": PolicyVersion.objects.filter(schema=target.schema, status=PolicyVersion.Status.APPROVED)
                .exclude(pk=active.pk if active else None)
                .order_by("-number")[:20],
                "active": active,
                "downloads": _downloads(target, active) if active else [],
            }
        )
    return render_page(
        request,
        "gqlgov/exports/overview.html",
        "Exports",
        {
            "targets": targets,
            "crumbs": [("Exports", None)],
        },
    )


@require_POST
@roles.requires(roles.OPERATE_EXPORTS)
def target_action(request, target_id: int, action: str):
    if action not in ("sync", "rollback"):
        raise Http404("No such export action.")
    target = get_object_or_404(GatewayTarget.objects.select_related("schema"), pk=target_id)
    actor = actor_for_user(request.user)
    try:
        if action == "sync":
            version = target.schema.active_policy
            if version is None:
                raise ApiError("NO_ACTIVE_POLICY", f"{target.schema.name} has no active policy to export.", status=409)
            run = export_request(actor=actor, target=target, version=version)
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


def _run(run_id: int) -> ExportRun:
    return get_object_or_404(
        ExportRun.objects.select_related("target", "policy_version__schema", "schema_version"), pk=run_id
    )


@roles.requires(roles.VIEW)
def run_detail(request, run_id: int):
    run = _run(run_id)
    return render_page(
        request,
        "gqlgov/exports/run.html",
        f"Export run #{run.pk}",
        {
            "run": run,
            "calls": run.calls.all()[:1000],
            "progress": run_progress(run),
            "refusal": refusal(run),
            "downloads": _downloads(run.target, run.policy_version),
            "crumbs": [("Exports", reverse("admin:gqlgov_exports")), (f"Run #{run.pk}", None)],
        },
    )


@roles.requires(roles.VIEW)
def run_status(request, run_id: int):
    """The run's progress as JSON, polled by the run page (gqlgov/admin.js) until it finishes."""
    return JsonResponse(run_progress(_run(run_id)))  # the admin marks its answers no-store already


def _downloads(target: GatewayTarget, version: PolicyVersion) -> list[dict[str, str]]:
    return [
        {
            "format": fmt,
            "label": label,
            "url": reverse("admin:gqlgov_export_download", args=[target.pk, fmt]) + f"?version={version.number}",
        }
        for fmt, (label, _suffix) in IAC_FILES.items()
    ]


@roles.requires(roles.VIEW)
def iac_download(request, target_id: int, fmt: str):
    """The target's export plan for a version (default: the active one) as CloudFormation,
    Terraform or OpenAPI: the file `export_policies --format` writes. Not audited: it holds no
    secret (API key values stay in KMS) and the same reads through the CLI and API are not."""
    if fmt not in IAC_FILES:
        raise Http404("No such format.")
    target = get_object_or_404(GatewayTarget.objects.select_related("schema", "schema__active_policy"), pk=target_id)
    number = request.GET.get("version", "")
    if not number:
        version = target.schema.active_policy
    elif number.isdigit() and len(number) <= 9:  # a version number, not a 10**30 for the database
        version = PolicyVersion.objects.filter(schema=target.schema, number=int(number)).first()
    else:
        version = None
    if version is None:
        raise Http404("No such policy version of this target's schema.")
    try:
        filename, text = iac_file(target, version, fmt)
    except ApiError as exc:
        report(request, exc)
        return redirect(reverse("admin:gqlgov_exports") + f"#target-{target.pk}")
    response = HttpResponse(text, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
