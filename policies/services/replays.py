"""Replays of recorded checks against a policy version: the stored run with its progress and
summary, its audit event, and the approval gate of schemas that require one."""

import hashlib
from collections.abc import Callable
from datetime import datetime

import rfc8785
from django.db import transaction
from django.utils import timezone

from agents.audit import record_event
from gqlgov.errors import ApiError
from policies.checks.replay import replay_policy_version
from policies.models import PolicyReplay, PolicyVersion


def document_sha256(version: PolicyVersion) -> str:
    """The digest of the version's policy text, canonical JSON: a replay counts for this text only."""
    return hashlib.sha256(rfc8785.dumps(version.document)).hexdigest()


def policy_replay(*, actor: str, version: PolicyVersion, since: datetime,
                  on_progress: Callable[[int, int], None] | None = None) -> PolicyReplay:
    """Replays the schema's checks recorded since `since` against `version` (nothing recorded, no
    rate limit charged); the run's progress is stored as it goes, its summary and the
    `policy.replayed` event at the end. A failure marks the run failed and is raised."""
    run = PolicyReplay.objects.create(policy_version=version, document_sha256=document_sha256(version),
                                      schema_version=None, since=since, requested_by=actor)

    def progress(done: int, total: int) -> None:
        PolicyReplay.objects.filter(pk=run.pk).update(done=done, total=total)
        if on_progress is not None:
            on_progress(done, total)

    try:
        summary = replay_policy_version(version, since=since, on_progress=progress).as_dict()
    except Exception:
        PolicyReplay.objects.filter(pk=run.pk).update(status=PolicyReplay.Status.FAILED, finished_at=timezone.now())
        raise
    with transaction.atomic():
        PolicyReplay.objects.filter(pk=run.pk).update(
            status=PolicyReplay.Status.DONE, summary=summary, schema_version=summary["schema_version"],
            finished_at=timezone.now(),
        )
        record_event(actor=actor, action="policy.replayed", target=version, details={
            "schema": version.schema.name, "version": version.number, "replay": run.pk,
            **{key: summary[key] for key in ("since", "schema_version", "replayed", "unchanged", "undetermined",
                                             "flips")},
        })
    run.refresh_from_db()
    return run


def latest_replay(version: PolicyVersion) -> PolicyReplay | None:
    """The newest finished replay of the version's current text, if any."""
    return (version.replays.filter(status=PolicyReplay.Status.DONE, document_sha256=document_sha256(version))
            .order_by("-created_at").first())


def required_replay(version: PolicyVersion) -> PolicyReplay | None:
    """The replay an approval of `version` rests on; REPLAY_REQUIRED (409) when its schema requires
    one and the version's current text has none. None when the schema requires none."""
    if not version.schema.require_replay:
        return None
    replay = latest_replay(version)
    if replay is None:
        raise ApiError(
            "REPLAY_REQUIRED",
            f"Schema '{version.schema.name}' requires a replay of recorded checks before approval: run"
            f" `python manage.py replay_policy {version.schema.name} {version.number}` (or Replay on the review page).",
            status=409,
        )
    return replay
