"""Identity changes reach the gateway in seconds: when what a plan knows of a principal changes
(created, suspended, resumed, another kind, groups or IAM role; plan.AgentInfo), the targets it
appears in get an export of their active version, debounced.

Debounced by the database, so it works on any broker and with eager Celery: the first change
queues a run whose task runs GQLGOV_IDENTITY_EXPORT_DEBOUNCE_S later; a change while a run of
the target is still queued adds nothing, because a run builds its plan from the identities as
they are when it starts. The wait is counted from the first change, so changes that keep coming
cannot postpone the export. Two changes racing past the check both queue a run: the newer
supersedes the older (export_request), and still one export happens.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator, Mapping
from typing import Any

from django.conf import settings
from django.db.models import Q

from policies.engine import rule_matches
from policies.gateway.models import ExportRun, GatewayTarget
from policies.gateway.plan import AgentInfo
from policies.gateway.services.runs import export_request
from policies.models import PolicyVersion

logger = logging.getLogger("gqlgov.export")
Status = ExportRun.Status


def identity_exports_request(
    *, name: str, change: str, before: Mapping[str, Any] | None, after: Mapping[str, Any]
) -> list[ExportRun]:
    """The export runs queued for a principal's change (by "system", with the change as reason):
    none when the change leaves its plan inputs as they were, or for a target already queued."""
    now = AgentInfo.of(after)
    was = AgentInfo.of(before) if before is not None else None
    if was == now:
        return []
    reason = f"identity change: {name} {change}"
    if change == "changed" and was is not None:
        reason += " (" + ", ".join(_changed_fields(was, now)) + ")"
    mentions = {name} | {info.iam_role_arn for info in (was, now) if info is not None and info.iam_role_arn}
    runs = []
    for target, version in _targets_with(now, mentions):
        if ExportRun.objects.filter(target=target, status=Status.QUEUED).exists():
            logger.info("%s joins the export of %s already queued", reason, target.name)
            continue
        runs.append(
            export_request(
                actor="system",
                target=target,
                version=version,
                trigger=ExportRun.Trigger.IDENTITY,
                reason=reason,
                countdown=settings.GQLGOV_IDENTITY_EXPORT_DEBOUNCE_S,
            )
        )
    return runs


def _changed_fields(was: AgentInfo, now: AgentInfo) -> list[str]:
    return [
        field.name for field in dataclasses.fields(AgentInfo) if getattr(was, field.name) != getattr(now, field.name)
    ]


def _targets_with(agent: AgentInfo, mentions: set[str]) -> Iterator[tuple[GatewayTarget, PolicyVersion]]:
    """Each enabled, exported target of a schema with an approved active version, with that
    version, where the agent is or may be on the gateway (a plan it holds names the agent or its
    role) or the version's rules match the agent now (if active: plans leave suspended agents out)."""
    targets = GatewayTarget.objects.filter(
        enabled=True, schema__active_policy__status=PolicyVersion.Status.APPROVED
    ).select_related("schema__active_policy")
    for target in targets:
        version = target.schema.active_policy
        assert version is not None  # the filter above
        plans = _plans_on_gateway(target)
        if not plans:
            continue  # never exported: the gateway holds nothing of gqlgov's yet
        if any(plan is None or _names_any(plan, mentions) for plan in plans) or (
            agent.active and any(rule_matches(rule, agent) for rule in _rules(version))
        ):
            yield target, version


def _plans_on_gateway(target: GatewayTarget) -> list[dict[str, Any] | None]:
    """The plans whose writes the gateway may hold: the last successful run's and those of every
    run since (a failed one may have applied part of its plan), and None for a run that is
    running but has not recorded its plan yet (it may have read the identities before the change)."""
    runs = ExportRun.objects.filter(target=target).filter(Q(plan__isnull=False) | Q(status=Status.RUNNING))
    last_success = runs.filter(status=Status.SUCCEEDED).order_by("-pk").values_list("pk", flat=True).first()
    if last_success is not None:
        runs = runs.filter(pk__gte=last_success)
    return list(runs.values_list("plan", flat=True))


def _names_any(value: Any, names: set[str]) -> bool:
    """True when a string anywhere in the plan (a role ARN in the resource policy, an agent's
    name on its usage plan or in the report) is one of `names`; reads the plan's values, not its
    layout, so it holds whatever the plan builder puts where."""
    if isinstance(value, str):
        return value in names
    if isinstance(value, Mapping):
        return any(_names_any(item, names) for item in value.values())
    if isinstance(value, list | tuple):
        return any(_names_any(item, names) for item in value)
    return False


def _rules(version: PolicyVersion) -> list[Mapping[str, Any]]:
    return [rule for rule in version.document.get("rules") or () if isinstance(rule, Mapping)]
