"""Export runs: requested (queued, the task enqueued on commit, older queued runs superseded),
claimed (one run per target, by conditional UPDATE and a lease), executed and finished.

Each state change writes its audit event in the same transaction. AWS calls never run inside
a database transaction: a run claims its target, calls AWS, then records the outcome in one
transaction. The per-call log (ExportCall) and the claim's lease renewal are written as the
calls happen, so a worker killed mid-export leaves an honest trail.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from agents.audit import record_event
from gqlgov import metrics
from gqlgov.errors import ApiError
from policies import lockstep
from policies.gateway import kms as kms_ops
from policies.gateway.applier import Applier
from policies.gateway.aws import CallRecorder, RecordedCall, aws_message, is_transient
from policies.gateway.limits import PlanLimitError, check_plan
from policies.gateway.models import ExportCall, ExportRun, GatewayTarget
from policies.gateway.plan import canonical_json, plan_hash
from policies.gateway.services.secrets import StoredSecrets, rotate_after_deployment
from policies.gateway.services.targets import clients_for, lambda_client_for, lockstep_problems, plan_for
from policies.models import PolicyVersion

Status = ExportRun.Status
# The Celery task that runs an export (policies/gateway/tasks.py); the name predates the app.
EXPORT_TASK = "policies.export_policy_version"


class TransientExportError(Exception):
    """AWS throttled or failed with 5xx after botocore's retries; the task retries later."""


class TargetBusy(Exception):
    """Another run holds the target's claim; the task retries after a short delay."""


class LostClaim(Exception):
    """This run's lease expired and another run claimed the target; stop making calls."""


def export_request(
    *,
    actor: str,
    target: GatewayTarget,
    version: PolicyVersion,
    trigger: str = ExportRun.Trigger.MANUAL,
    reason: str = "",
    countdown: float = 0,
) -> ExportRun:
    """Queues an export of `version` to `target` and enqueues its task on commit, to run
    `countdown` seconds later (a worker does; eager Celery runs it at once). Queued runs of the
    target requested earlier are superseded: the newest request wins (for approvals the newest
    version; for a rollback the version rolled back to). `reason` goes to the audit event."""
    if version.status != PolicyVersion.Status.APPROVED:
        raise ApiError(
            "NOT_APPROVED",
            f"Policy version {version.number} is {version.status}; only approved versions are exported.",
            status=409,
        )
    if version.schema_id != target.schema_id:
        raise ApiError("SCHEMA_MISMATCH", f"Target {target.name} serves schema {target.schema.name}.", status=409)
    with transaction.atomic():
        run = ExportRun.objects.create(
            target=target,
            policy_version=version,
            trigger=trigger,
            requested_by=actor,
            schema_version=lockstep.pinned_schema_version(version),
        )
        superseded = list(
            ExportRun.objects.filter(target=target, status=Status.QUEUED, pk__lt=run.pk).values_list("pk", flat=True)
        )
        if superseded:
            ExportRun.objects.filter(pk__in=superseded, status=Status.QUEUED).update(
                status=Status.SUPERSEDED, superseded_by=run, finished_at=timezone.now()
            )
        record_event(
            actor=actor,
            action="export.requested",
            target=run,
            details={
                "target": target.name,
                "schema": version.schema.name,
                "version": version.number,
                "trigger": trigger,
                "superseded_runs": superseded,
                **({"reason": reason} if reason else {}),
            },
        )
        _enqueue_export_on_commit(version.pk, target.pk, countdown=countdown)
    return run


def _enqueue_export_on_commit(version_id: int, target_id: int, *, countdown: float = 0) -> None:
    # By name, through Celery's registry: tasks.py calls these services, so importing it here
    # would make a cycle. The app's ready() imports tasks.py, so the task is registered in every
    # process; the registered task (unlike send_task) honours CELERY_TASK_ALWAYS_EAGER.
    # No countdown: no ETA at all (a worker runs ETA tasks through its timer, even when due).
    current_app.tasks[EXPORT_TASK].apply_async_on_commit((version_id, target_id), countdown=countdown or None)


def enqueue_exports_for_policy(
    version: PolicyVersion, *, actor: str = "system", trigger: str | None = None
) -> list[ExportRun]:
    """Queues the version's export to every enabled target of its schema (tasks sent on commit).
    Called when a version becomes active: on approval, or on a rollback when a newer approved
    version exists (the trigger says which unless given)."""
    if trigger is None:
        newer = version.schema.policy_versions.filter(
            number__gt=version.number, status=PolicyVersion.Status.APPROVED
        ).exists()
        trigger = ExportRun.Trigger.ROLLBACK if newer else ExportRun.Trigger.APPROVAL
    targets = GatewayTarget.objects.filter(schema_id=version.schema_id, enabled=True).select_related("schema")
    return [export_request(actor=actor, target=target, version=version, trigger=trigger) for target in targets]


@dataclass(frozen=True)
class ExecuteOutcome:
    status: str
    run_id: int | None = None
    message: str = ""


def export_run_claim(*, run: ExportRun, lease_s: int | None = None) -> bool:
    """Claims the run's target for this run with a conditional UPDATE (free, or its lease ran out)
    and marks the run running; False when another run holds the target or the run is finished."""
    lease = timedelta(seconds=lease_s or settings.GQLGOV_EXPORT_LEASE_S)
    now = timezone.now()
    with transaction.atomic():
        claimed = (
            GatewayTarget.objects.filter(pk=run.target_id)
            .filter(Q(active_run__isnull=True) | Q(lease_expires_at__lt=now))
            .update(active_run=run, lease_expires_at=now + lease)
        )
        if not claimed:
            return False
        started = ExportRun.objects.filter(pk=run.pk, status__in=[Status.QUEUED, Status.RUNNING]).update(
            status=Status.RUNNING, started_at=now, attempts=F("attempts") + 1
        )
        if not started:
            transaction.set_rollback(True)
            return False
        run.refresh_from_db()
        _record(run, "export.started", attempt=run.attempts)
    return True


def _record(run: ExportRun, action: str, **details: Any) -> None:
    """The run's audit event (by the system), naming its target and policy version."""
    record_event(
        actor="system",
        action=action,
        target=run,
        details={"target": run.target.name, "version": run.policy_version.number, **details},
    )


def _renew_lease(run: ExportRun) -> None:
    renewed = GatewayTarget.objects.filter(pk=run.target_id, active_run=run).update(
        lease_expires_at=timezone.now() + timedelta(seconds=settings.GQLGOV_EXPORT_LEASE_S)
    )
    if not renewed:
        raise LostClaim(f"export #{run.pk} lost its claim on the target")


def _release(run: ExportRun) -> None:
    GatewayTarget.objects.filter(pk=run.target_id, active_run=run).update(active_run=None, lease_expires_at=None)


class _CallLog:
    """Writes each AWS call of a run as it happens and renews the run's lease (at most once a second)."""

    def __init__(self, run: ExportRun) -> None:
        self.run = run
        self.seq = ExportCall.objects.filter(run=run, attempt=run.attempts).count()
        self._renewed = timezone.now()

    def __call__(self, call: RecordedCall) -> None:
        self.seq += 1
        ExportCall.objects.create(
            run=self.run,
            attempt=self.run.attempts,
            seq=self.seq,
            service=call.service,
            action=call.action,
            resource=call.resource[:500],
            outcome=call.outcome,
            mutating=call.mutating,
            retries=call.retries,
            duration_ms=call.duration_ms,
            error=call.error,
        )
        if (timezone.now() - self._renewed).total_seconds() >= 1:
            self._renewed = timezone.now()
            _renew_lease(self.run)


def _current_run(target_id: int, version_id: int) -> ExportRun | None:
    return (
        ExportRun.objects.select_related("target", "policy_version__schema_version")
        .filter(target_id=target_id, policy_version_id=version_id, status__in=[Status.QUEUED, Status.RUNNING])
        .order_by("-pk")
        .first()
    )


def export_run_execute(*, version_id: int, target_id: int) -> ExecuteOutcome:
    """Runs the newest queued (or interrupted) export of the version to the target: lockstep
    check, plan, limits, signature, apply, record. Raises TargetBusy while another run holds
    the target and TransientExportError when AWS keeps throttling; both are retried by the task."""
    run = _current_run(target_id, version_id)
    if run is None:
        return ExecuteOutcome("nothing_to_do", None, "no queued export (superseded or already done)")
    if not export_run_claim(run=run):
        run.refresh_from_db()
        if run.status not in (Status.QUEUED, Status.RUNNING):
            return ExecuteOutcome(run.status, run.pk, "already finished")
        raise TargetBusy(f"target {run.target.name} is busy with another export")
    target, version = run.target, run.policy_version
    try:
        problems = lockstep_problems(target, version)
        if problems:
            return _finish_refused(run, problems)
        plan = plan_for(target, version)
        check_plan(plan)
        apigateway, kms = clients_for(target)
        lambda_client = lambda_client_for(target)
        recorder = CallRecorder(on_call=_CallLog(run))
        for client in (apigateway, kms, lambda_client):
            recorder.attach(client)
        signature = kms_ops.sign_plan(kms, target.signing_key_id, plan) if target.signing_key_id else ""
        ExportRun.objects.filter(pk=run.pk).update(
            plan=plan,
            plan_hash=plan_hash(plan),
            report=plan["report"],
            signature=signature,
            signing_key_id=target.signing_key_id if signature else "",
            signing_algorithm=kms_ops.SIGNING_ALGORITHM if signature else "",
        )
        applier = Applier(apigateway, plan, secrets=StoredSecrets(target, kms), lambda_client=lambda_client)
        recorder.attach(applier.logs)
        result = applier.run()
        rotation = rotate_after_deployment(target, kms) if result.deployed and target.kms_key_id else None
    except PlanLimitError as exc:
        return _finish_failed(run, exc.message, {"violations": exc.details["violations"]})
    except ApiError as exc:
        return _finish_failed(run, f"{exc.code}: {exc.message}", exc.details)
    except LostClaim as exc:
        return ExecuteOutcome("lost_claim", run.pk, str(exc))
    except Exception as exc:
        if is_transient(exc):
            _requeue(run, aws_message(exc))
            raise TransientExportError(aws_message(exc)) from exc
        if exc.__class__.__module__.startswith("botocore"):
            return _finish_failed(run, aws_message(exc), {})
        _finish_failed(run, f"{type(exc).__name__}: {exc}", {})
        raise
    return _finish_succeeded(run, result, rotation)


def _finish_succeeded(run: ExportRun, result, rotation: dict[str, Any] | None) -> ExecuteOutcome:
    with transaction.atomic():
        mutating = ExportCall.objects.filter(run=run, attempt=run.attempts, mutating=True).count()
        ExportRun.objects.filter(pk=run.pk).update(
            status=Status.SUCCEEDED,
            finished_at=timezone.now(),
            rest_api_id=result.rest_api_id or "",
            deployment_id=result.deployment_id,
            changes=result.changes,
            mutating_calls=mutating,
            error="",
        )
        GatewayTarget.objects.filter(pk=run.target_id).update(resolved_rest_api_id=result.rest_api_id or "")
        _release(run)
        _record(
            run,
            "export.succeeded",
            rest_api_id=result.rest_api_id,
            deployment_id=result.deployment_id,
            changes=len(result.changes),
            key_rotation=rotation,
            warnings=result.warnings,
        )
    metrics.EXPORT_RUNS.labels(Status.SUCCEEDED).inc()
    return ExecuteOutcome(Status.SUCCEEDED, run.pk)


def _finish_failed(run: ExportRun, message: str, details: Any) -> ExecuteOutcome:
    with transaction.atomic():
        ExportRun.objects.filter(pk=run.pk).update(
            status=Status.FAILED, finished_at=timezone.now(), error=message, error_details=details or {}
        )
        _release(run)
        _record(run, "export.failed", error=message)
    metrics.EXPORT_RUNS.labels(Status.FAILED).inc()
    return ExecuteOutcome(Status.FAILED, run.pk, message)


def _finish_refused(run: ExportRun, problems: dict[str, Any]) -> ExecuteOutcome:
    parts = []
    if problems.get("stale"):
        parts.append("stale references: " + ", ".join(canonical_json(item) for item in problems["stale"]))
    if problems.get("ungoverned"):
        parts.append("ungoverned operations: " + ", ".join(problems["ungoverned"]))
    message = "Schema lockstep: the policy does not match the current schema; " + "; ".join(parts)
    with transaction.atomic():
        ExportRun.objects.filter(pk=run.pk).update(
            status=Status.REFUSED, finished_at=timezone.now(), error=message, error_details=problems
        )
        _release(run)
        _record(run, "export.refused", **problems)
    return ExecuteOutcome(Status.REFUSED, run.pk, message)


def _requeue(run: ExportRun, message: str) -> None:
    """Transient failure: back to queued (unless a newer request superseded it), claim released."""
    with transaction.atomic():
        ExportRun.objects.filter(pk=run.pk, status=Status.RUNNING).update(status=Status.QUEUED, error=message)
        _release(run)
        record_event(
            actor="system",
            action="export.retrying",
            target=run,
            details={"target": run.target.name, "error": message, "attempt": run.attempts},
        )


def export_run_fail_permanently(*, version_id: int, target_id: int, message: str) -> None:
    """The task gave up retrying: the queued run fails with the last AWS message."""
    run = _current_run(target_id, version_id)
    if run is not None:
        _finish_failed(run, message, {})
