"""Reads of the export shared by the API, the commands and the admin."""

from dataclasses import dataclass
from typing import Any

from gqlgov.errors import NotFound
from policies.gateway.iac import render
from policies.gateway.models import DriftReport, ExportRun, GatewayTarget
from policies.gateway.services.targets import plan_for
from policies.models import PolicyVersion


def target_by_name(name: str, *, schema: str | None = None) -> GatewayTarget:
    targets = GatewayTarget.objects.select_related("schema").filter(name=name)
    if schema is not None:
        targets = targets.filter(schema__name=schema)
    target = targets.first()
    if target is None:
        raise NotFound(f"gateway target '{name}'" + (f" of schema '{schema}'" if schema else ""))
    return target


def export_run(run_id: int) -> ExportRun:
    run = ExportRun.objects.select_related("target", "policy_version__schema").filter(pk=run_id).first()
    if run is None:
        raise NotFound(f"export run {run_id}")
    return run


@dataclass(frozen=True)
class SyncStatus:
    """What may honestly be said of a target's live gateway: `state` is one of never_exported,
    refused, failed, in_progress, drift, never_checked, in_sync; `label` says it to a person."""

    state: str
    label: str
    drift: DriftReport | None = None


def sync_status(target: GatewayTarget, last_run: ExportRun | None) -> SyncStatus:
    """The target's sync state from its latest run and drift check. "in sync" is said only when the
    latest export succeeded and a drift check since then found the live gateway equal to its plan."""
    if last_run is None:
        return SyncStatus("never_exported", "never exported")
    if last_run.status == ExportRun.Status.REFUSED:
        return SyncStatus("refused", "refused: schema lockstep")
    if last_run.status == ExportRun.Status.FAILED:
        return SyncStatus("failed", "last export failed")
    if last_run.status in (ExportRun.Status.QUEUED, ExportRun.Status.RUNNING):
        return SyncStatus("in_progress", "export in progress")
    drift = DriftReport.objects.filter(target=target).first()
    healed = drift is not None and drift.heal_run_id is not None and last_run.created_at >= drift.detected_at
    if drift is not None and drift.differences and not healed:
        return SyncStatus("drift", f"drift: {len(drift.differences)} difference(s)", drift)
    finished = last_run.finished_at or last_run.created_at
    if target.last_drift_check_at is None or target.last_drift_check_at < finished:
        return SyncStatus("never_checked", "exported, never checked for drift")
    return SyncStatus("in_sync", "in sync")


TERMINAL = (
    ExportRun.Status.SUCCEEDED,
    ExportRun.Status.FAILED,
    ExportRun.Status.REFUSED,
    ExportRun.Status.SUPERSEDED,
)


def run_progress(run: ExportRun) -> dict[str, Any]:
    """How far a run is, for the run page's indicator (polled as JSON while it is not finished)."""
    calls = run.calls.filter(attempt=run.attempts or 1)
    return {
        "id": run.pk,
        "status": run.status,
        "label": run.get_status_display(),
        "finished": run.status in TERMINAL,
        "attempt": run.attempts,
        "calls": calls.count(),
        "changing_calls": calls.filter(mutating=True).count(),
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "error": run.error,
    }


def refusal(run: ExportRun) -> list[dict[str, str]]:
    """Why a refused run was refused, one problem a row, each with what to do about it."""
    if run.status != ExportRun.Status.REFUSED:
        return []
    problems = run.error_details or {}
    schema = run.policy_version.schema.name
    rows = []
    for stale in problems.get("stale") or []:
        rows.append(
            {
                "problem": f"Rule {stale.get('rule')} names {stale.get('kind')} {stale.get('reference')} "
                f"({stale.get('field')}), which the schema version of {schema} it is measured against does not have.",
                "fix": f"Edit rule {stale.get('rule')} so it names what the schema has (the schema version's page"
                " offers each fix), then have the new policy version approved: approval exports it again.",
            }
        )
    ungoverned = problems.get("ungoverned") or []
    if ungoverned:
        rows.append(
            {
                "problem": f"Target {run.target.name} requires every operation to be governed; "
                f"no rule covers {', '.join(ungoverned)}.",
                "fix": "Add rules for these operations (allow or deny) and have the version approved, or turn off "
                "the target's full-coverage requirement.",
            }
        )
    return rows


IAC_FILES = {
    "cloudformation": ("CloudFormation", "cloudformation.json"),
    "terraform": ("Terraform", "tf.json"),
    "openapi": ("OpenAPI", "openapi.json"),
}


def iac_file(target: GatewayTarget, version: PolicyVersion, fmt: str) -> tuple[str, str]:
    """The export plan of `version` on `target` rendered as `fmt` (IAC_FILES): (file name, text).
    The same plan the applier uses (policies.gateway.iac); VERIFIER_PACKAGE_MISSING as plan_for."""
    text = render(plan_for(target, version), fmt)
    return f"{target.name}-v{version.number}.{IAC_FILES[fmt][1]}", text
