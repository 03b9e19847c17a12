"""The agent page: status, tokens (shown once), recent decisions and the operations it may call."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from agents import services
from agents.audit import actor_for_user
from agents.models import ApiToken, Principal
from gqlgov import roles
from gqlgov.console import access
from gqlgov.console.common import post_int, render_page, report
from gqlgov.errors import ApiError
from policies.approvals.selectors import approval_queue
from policies.models import Decision, Schema


def _principal(name: str) -> Principal:
    return get_object_or_404(Principal.objects.select_related("owner", "user"), name=name)


def _back(principal: Principal):
    return redirect(reverse("admin:gqlgov_agent", args=[principal.name]))


def callable_operations(principal: Principal) -> list[dict]:
    """Per schema with an active policy: the operations the agent may call, and how."""
    result = []
    for schema in Schema.objects.select_related("latest_version", "active_policy").exclude(active_policy=None):
        operations = schema.latest_version.operations if schema.latest_version else []
        rows = []
        for operation in operations:
            verdict = access.access_for(schema.active_policy.document, principal, operation)
            if verdict.verdict in (access.ALLOW, access.APPROVAL, access.CONDITIONAL):
                rows.append({"operation": operation, "verdict": verdict.verdict, "rules": verdict.rules})
        result.append({"schema": schema, "policy": schema.active_policy, "operations": rows})
    return result


@roles.requires(roles.VIEW)
def agent_detail(request, name: str):
    return _agent_page(request, _principal(name))


def _agent_page(request, principal: Principal, new_token: dict | None = None):
    """The agent page; `new_token` (plaintext) only in the answer to the POST that created it.

    The plaintext is never stored anywhere (not even in the session): reloading the page
    cannot show it again.
    """
    response = render_page(
        request,
        "gqlgov/agents/detail.html",
        f"Agent {principal.name}",
        {
            "principal": principal,
            "tokens": principal.tokens.select_related("rotated_to").all()[:50],
            "new_token": new_token,
            "decisions": Decision.objects.filter(principal=principal)[:20],
            "decision_count": Decision.objects.filter(principal=principal).count(),
            "callable": callable_operations(principal),
            "queue": approval_queue(agent=principal.name, status=None).order_by("-created_at")[:20],
            "show_secrets": roles.can(request.user, roles.VIEW_SECRETS),
        },
    )
    # The page may carry a token's plaintext: never cache it, so Back cannot show it again.
    response["Cache-Control"] = "no-store"
    return response


@require_POST
@roles.requires(roles.MANAGE_AGENTS)
def agent_status(request, name: str, change: str):
    principal = _principal(name)
    service = {"suspend": services.principal_suspend, "resume": services.principal_resume}.get(change)
    if service is None:
        raise Http404("Unknown status change.")
    service(actor=actor_for_user(request.user), principal=principal)
    messages.success(request, f"{principal.name} is now {principal.get_status_display().lower()}.")
    return _back(principal)


@require_POST
@roles.requires(roles.MANAGE_AGENTS)
def token_issue(request, name: str):
    principal = _principal(name)
    label = request.POST.get("label", "").strip()[:100]
    raw_days = request.POST.get("expires_in_days", "").strip()
    days = post_int(request, "expires_in_days") if raw_days else None
    if raw_days and days is None:
        messages.error(request, "Expiry must be a whole number of days (1-3650), or empty for no expiry.")
        return _back(principal)
    try:
        token, plaintext = services.token_issue(
            actor=actor_for_user(request.user), principal=principal, expires_in_days=days, label=label
        )
    except ApiError as exc:
        report(request, exc)
        return _back(principal)
    messages.success(request, f"Token {token.prefix} issued. Copy it now: it is shown only once.")
    return _agent_page(request, principal, {"prefix": token.prefix, "token": plaintext})


def _token(principal: Principal, token_id: int) -> ApiToken:
    return get_object_or_404(ApiToken.objects.select_related("principal"), pk=token_id, principal=principal)


@require_POST
@roles.requires(roles.MANAGE_AGENTS)
def token_revoke(request, name: str, token_id: int):
    principal = _principal(name)
    token = services.token_revoke(actor=actor_for_user(request.user), token=_token(principal, token_id))
    messages.success(request, f"Token {token.prefix} is revoked.")
    return _back(principal)


@require_POST
@roles.requires(roles.MANAGE_AGENTS)
def token_rotate(request, name: str, token_id: int):
    principal = _principal(name)
    grace_seconds = post_int(request, "grace_seconds", 0) or 0
    try:
        new, plaintext = services.token_rotate(
            actor=actor_for_user(request.user), token=_token(principal, token_id), grace_seconds=grace_seconds
        )
    except ApiError as exc:
        report(request, exc)
        return _back(principal)
    messages.success(request, f"Token rotated; the replacement {new.prefix} is shown once below.")
    return _agent_page(request, principal, {"prefix": new.prefix, "token": plaintext})
