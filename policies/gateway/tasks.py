"""Celery tasks of the API Gateway export: fetch by id, call one service, nothing else.

Exports are idempotent (the applier converges to the plan whatever state it finds), so they
are acknowledged late and redelivered when a worker dies mid-export. The task names are the
ones they had when they lived in policies/tasks.py: queued messages and beat schedules use them.
"""

from celery import shared_task
from django.conf import settings

from policies.gateway import services


@shared_task(
    name=services.EXPORT_TASK,
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(services.TransientExportError,),
    retry_backoff=5,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=settings.GQLGOV_EXPORT_MAX_RETRIES,
)
def export_policy_version(self, version_id: int, target_id: int) -> dict:
    """Exports an approved policy version to one gateway target."""
    try:
        outcome = services.export_run_execute(version_id=version_id, target_id=target_id)
    except services.TargetBusy as exc:
        raise self.retry(exc=exc, countdown=settings.GQLGOV_EXPORT_BUSY_RETRY_S, max_retries=None) from exc
    except services.TransientExportError as exc:
        if self.request.retries >= self.max_retries:
            services.export_run_fail_permanently(version_id=version_id, target_id=target_id, message=str(exc))
        raise
    return {"status": outcome.status, "run": outcome.run_id, "message": outcome.message}


@shared_task(name="policies.detect_drift", acks_late=True)
def detect_drift() -> dict:
    """Compares every target with its active version's plan (Celery beat, GQLGOV_DRIFT_INTERVAL_S)."""
    reports = services.drift_check_all()
    return {"drifted_targets": [report.target_id for report in reports]}
