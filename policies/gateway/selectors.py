"""Reads of the export shared by the API, the commands and the admin."""

from dataclasses import dataclass

from gqlgov.errors import NotFound
from policies.gateway.models import DriftReport, ExportRun, GatewayTarget


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
