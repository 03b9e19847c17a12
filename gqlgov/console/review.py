"""Review: a policy version with its rule-by-rule diff against the active one; submit, approve, reject."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from agents.audit import actor_for_user
from gqlgov import roles
from gqlgov.console.common import render_page, report, schema_or_404
from gqlgov.console.forms import ReviewForm
from gqlgov.console.replays import SINCE_DAYS, replay_progress
from gqlgov.errors import ApiError
from policies import engine
from policies.models import PolicyVersion
from policies.selectors import policy_warnings, version_compared_with
from policies.services import contributors, drafts, policy_rollback
from policies.services.replays import document_sha256


def _version(schema, number: int) -> PolicyVersion:
    version = schema.policy_versions.select_related("author", "approver", "schema").filter(number=number).first()
    if version is None:
        raise Http404("No such policy version.")
    return version


@roles.requires(roles.VIEW)
def review_list(request):
    related = ("schema", "author", "schema_version")
    waiting = PolicyVersion.objects.filter(status=PolicyVersion.Status.IN_REVIEW).select_related(*related)
    open_drafts = PolicyVersion.objects.filter(status=PolicyVersion.Status.DRAFT).select_related(*related)
    decided = (
        PolicyVersion.objects.filter(status__in=[PolicyVersion.Status.APPROVED, PolicyVersion.Status.REJECTED])
        .select_related("schema", "author", "approver")
        .order_by("-decided_at")[:20]
    )
    return render_page(
        request,
        "gqlgov/review/list.html",
        "Reviews",
        {
            "waiting": waiting,
            "drafts": open_drafts,
            "decided": decided,
            "crumbs": [("Reviews", None)],
        },
    )


@roles.requires(roles.VIEW)
def policy_detail(request, name: str, number: int):
    schema = schema_or_404(name)
    version = _version(schema, number)
    active = schema.active_policy
    compare_to, compared_as = version_compared_with(version)
    is_contributor = actor_for_user(request.user) in contributors(version)
    return render_page(
        request,
        "gqlgov/review/detail.html",
        f"{schema.name} policy v{version.number}",
        {
            "schema": schema,
            "version": version,
            "active": active,
            "compare_to": compare_to,
            "compared_as": compared_as,
            "diff": drafts.rule_diff(compare_to.document if compare_to else None, version.document),
            "yaml": engine.dump_policy_yaml(version.document),
            "warnings": policy_warnings(schema, version.document),
            "replay": _latest_replay(version),
            "replay_days": SINCE_DAYS,
            "form": ReviewForm(),
            "is_contributor": is_contributor,
            "may_review": roles.can(request.user, roles.APPROVE) and not is_contributor,
            "crumbs": [
                ("Schemas", reverse("admin:gqlgov_schemas")),
                (schema.name, reverse("admin:gqlgov_schema", args=[schema.name])),
                (f"policy v{number}", None),
            ],
        },
    )


def _latest_replay(version: PolicyVersion) -> dict | None:
    """The newest replay of the version, with its progress and whether it is of the current text."""
    replay = version.replays.order_by("-created_at").first()
    if replay is None:
        return None
    return {"run": replay, "progress": replay_progress(replay), "summary": replay.summary,
            "current": replay.document_sha256 == document_sha256(version)}


_ACTIONS = {
    "submit": roles.EDIT_POLICY,
    "withdraw": roles.EDIT_POLICY,
    "approve": roles.APPROVE,
    "reject": roles.APPROVE,
    "rollback": roles.OPERATE_EXPORTS,
}


@require_POST
@roles.requires(roles.VIEW)
def policy_action(request, name: str, number: int, action: str):
    if action not in _ACTIONS:
        raise Http404("Unknown action.")
    roles.require(request.user, _ACTIONS[action])
    schema = schema_or_404(name)
    version = _version(schema, number)
    form = ReviewForm(request.POST)
    comment = form.data.get("comment", "")
    try:
        if action == "submit":
            drafts.draft_submit(version=version, user=request.user)
            messages.success(request, f"Version {number} is submitted; an approver reviews it next.")
        elif action == "withdraw":
            drafts.draft_withdraw(version=version, user=request.user)
            messages.success(request, f"Version {number} is back in draft.")
        elif action == "approve":
            drafts.policy_review_approve(version=version, user=request.user, comment=comment)
            messages.success(request, f"Version {number} is approved and now active; exports are enqueued.")
        elif action == "reject":
            drafts.policy_reject(version=version, user=request.user, comment=comment)
            messages.success(request, f"Version {number} is rejected; the active version is unchanged.")
        else:
            policy_rollback(actor=actor_for_user(request.user), schema=schema, number=number)
            messages.success(request, f"Version {number} is active again; its export is enqueued.")
    except ApiError as exc:
        if exc.status == 403:
            # Refused by the service's own rule (e.g. self-approval): say so, with the right status.
            report(request, exc)
            response = policy_detail(request, name, number)
            response.status_code = 403
            return response
        report(request, exc)
    return redirect("admin:gqlgov_policy", schema.name, number)
