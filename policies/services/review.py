"""Separation of duties and approval: who contributed to a version, and who may approve it."""

from typing import Any

from django.db import transaction
from django.utils import timezone

from agents.audit import actor_for_user
from agents.models import AuditEvent
from gqlgov.errors import ApiError
from policies import lockstep
from policies.models import PolicyReplay, PolicyVersion
from policies.services.common import Conflict, validate_document
from policies.services.replays import required_replay
from policies.services.versions import _activate

# Audit actions that make someone a contributor of a version.
_CONTRIBUTING_ACTIONS = (
    "policy.draft_created",
    "policy.rule_saved",
    "policy.rule_deleted",
    "policy.submitted",
)


def contributors(version: PolicyVersion) -> set[str]:
    """Audit actors ("user:<name>") who created, edited or submitted the version, and its author."""
    actors = set(
        AuditEvent.objects.filter(
            target_type=PolicyVersion._meta.label_lower,
            target_id=str(version.pk),
            action__in=_CONTRIBUTING_ACTIONS,
        ).values_list("actor", flat=True)
    )
    if version.author_id is not None:
        actors.add(actor_for_user(version.author))
    return actors


def refuse_self_approval(version: PolicyVersion, user) -> None:
    """The one separation-of-duties rule, for the admin, the API and the command line alike:
    whoever created, edited or submitted a version (or is its author) may not approve or reject it."""
    if actor_for_user(user) in contributors(version):
        raise ApiError(
            "SELF_APPROVAL", "You wrote or edited this version; another approver must review it.", status=403
        )


def policy_approve(*, approver, version: PolicyVersion) -> PolicyVersion:
    """Approves a draft and makes it the active version; the author cannot approve their own."""
    if not approver.has_perm("policies.approve_policyversion"):
        raise ApiError("PERMISSION_DENIED", f"{approver.get_username()} may not approve policies.", status=403)
    refuse_self_approval(version, approver)
    validate_document(version.schema, version.document, lockstep.pinned_schema_version(version))
    lockstep.refuse_stale(version)
    replay = required_replay(version)
    with transaction.atomic():
        claimed = PolicyVersion.objects.filter(
            pk=version.pk, status__in=[PolicyVersion.Status.DRAFT, PolicyVersion.Status.IN_REVIEW]
        ).update(status=PolicyVersion.Status.APPROVED, approver=approver, decided_at=timezone.now(),
                 schema_version=lockstep.pinned_schema_version(version))
        if not claimed:
            raise Conflict("NOT_APPROVABLE", f"Version {version.number} is {version.status}, not a draft.")
        version.refresh_from_db()  # the exporter checks the (now approved) status
        _activate(version, actor=actor_for_user(approver), action="policy.approved",
                  details={"replay": _replay_details(replay)} if replay is not None else None)
    version.refresh_from_db()
    return version


def _replay_details(replay: PolicyReplay) -> dict[str, Any]:
    """The replay summary kept with the approval (its audit event): what the approver saw."""
    summary = replay.summary
    return {"id": replay.pk, "since": summary.get("since"), "replayed": summary.get("replayed"),
            "undetermined": summary.get("undetermined"), "flips": summary.get("flips")}
