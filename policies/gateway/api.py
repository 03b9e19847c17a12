"""The export router: runs with their calls, for staff and CI callers. Mounted at /api/v1/exports."""

from datetime import datetime
from typing import Any

from ninja import Router, Schema

from agents.auth import StaffAuth
from policies.gateway.selectors import export_run

router = Router(tags=["exports"])


class ExportCallOut(Schema):
    attempt: int
    seq: int
    service: str
    action: str
    resource: str
    outcome: str
    mutating: bool
    retries: int
    duration_ms: int
    error: str


class ExportRunOut(Schema):
    id: int
    target: str
    schema_name: str
    policy_version: int
    status: str
    trigger: str
    requested_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: int | None
    attempts: int
    rest_api_id: str
    deployment_id: str
    plan_hash: str
    signed: bool
    changes: list[dict[str, Any]]
    report: list[dict[str, Any]]
    mutating_calls: int
    error: str
    error_details: dict[str, Any]
    calls: list[ExportCallOut]


@router.get("/{run_id}", response=ExportRunOut, auth=StaffAuth(), operation_id="get_export")
def get_export(request, run_id: int):
    """One export run: status, timing, error, the per-rule report and every AWS call it made."""
    run = export_run(run_id)
    return ExportRunOut(
        id=run.pk,
        target=run.target.name,
        schema_name=run.policy_version.schema.name,
        policy_version=run.policy_version.number,
        status=run.status,
        trigger=run.trigger,
        requested_by=run.requested_by,
        created_at=run.created_at,
        started_at=run.started_at,
        finished_at=run.finished_at,
        duration_ms=run.duration_ms,
        attempts=run.attempts,
        rest_api_id=run.rest_api_id,
        deployment_id=run.deployment_id,
        plan_hash=run.plan_hash,
        signed=bool(run.signature),
        changes=run.changes,
        report=run.report,
        mutating_calls=run.mutating_calls,
        error=run.error,
        error_details=run.error_details,
        calls=[ExportCallOut.from_orm(call) for call in run.calls.all()],
    )
