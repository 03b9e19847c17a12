"""Replaying recorded checks against a policy version from its review page: start one (a Celery
task runs it), and its progress as JSON for the page's indicator."""

from datetime import timedelta

from django.contrib import messages
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.views.decorators.http import require_POST

from agents.audit import actor_for_user
from gqlgov import roles
from gqlgov.console.common import schema_or_404
from policies.models import PolicyReplay
from policies.services.replays import policy_replay_start
from policies.tasks import replay_policy_version

SINCE_DAYS = (1, 7, 30)


@require_POST
@roles.requires(roles.EDIT_POLICY)
def replay_start(request, name: str, number: int):
    """Starts a replay of the version against the checks of the last 1, 7 or 30 days."""
    schema = schema_or_404(name)
    version = get_object_or_404(schema.policy_versions, number=number)
    days = int(request.POST.get("days", "7")) if request.POST.get("days", "7") in {str(d) for d in SINCE_DAYS} else 7
    replay = policy_replay_start(actor=actor_for_user(request.user), version=version,
                                 since=timezone.now() - timedelta(days=days))
    replay_policy_version.delay_on_commit(replay.pk)
    messages.info(request, f"Replaying the checks of the last {days} day(s) against v{number}.")
    return redirect(f"/admin/schemas/{schema.name}/policy/{number}/#replay")


@roles.requires(roles.VIEW)
def replay_status(request, replay_id: int):
    replay = get_object_or_404(PolicyReplay, pk=replay_id)
    return JsonResponse(replay_progress(replay))


def replay_progress(replay: PolicyReplay) -> dict:
    """How far a replay is: what the review page's indicator shows and polls."""
    finished = replay.status != PolicyReplay.Status.RUNNING
    return {"id": replay.pk, "status": replay.status, "label": replay.get_status_display(), "finished": finished,
            "done": replay.done, "total": replay.total,
            "percent": round(100 * replay.done / replay.total) if replay.total else (100 if finished else 0)}
