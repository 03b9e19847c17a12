"""Celery tasks of the policies app: fetch by id, call one service, nothing else.

The export's tasks are the gateway app's: policies/gateway/tasks.py.
"""

from celery import shared_task


@shared_task(name="policies.drain_decisions", acks_late=True, ignore_result=True)
def drain_decisions() -> int:
    """Moves decision records from the Redis stream into the database (beat: GQLGOV_DECISION_DRAIN_INTERVAL_S)."""
    from policies.checks.drainer import drain

    return drain()


@shared_task(name="policies.expire_approvals", acks_late=True, ignore_result=True)
def expire_approvals() -> int:
    """Marks approval requests past their expiry expired, each audited (beat: every minute)."""
    from django.utils import timezone

    from policies.approvals.services import expire_due

    return expire_due(now=timezone.now())


@shared_task(
    name="policies.notify_approval",
    acks_late=True,
    ignore_result=True,
    bind=True,
    max_retries=None,
)
def notify_approval(self, approval_id: str, event: str) -> bool:
    """Announces an approval request or its decision to its webhook, retried with exponential backoff."""
    from django.conf import settings

    from policies.approvals.notify import DeliveryFailed, deliver
    from policies.models import ApprovalRequest

    approval = ApprovalRequest.objects.filter(pk=approval_id).first()
    if approval is None:
        return False
    try:
        return deliver(approval, event)
    except DeliveryFailed as exc:
        if self.request.retries >= settings.GQLGOV_APPROVAL_WEBHOOK_RETRIES:
            return False
        # 1, 2, 4, 8... seconds (at most 10 minutes) between attempts.
        raise self.retry(exc=exc, countdown=min(600, 2 ** self.request.retries)) from exc


@shared_task(name="policies.replay_policy_version", ignore_result=True)
def replay_policy_version(replay_id: int) -> None:
    """Runs a replay the console started (policies/services/replays.py); its row shows the progress."""
    from policies.models import PolicyReplay
    from policies.services.replays import policy_replay_run

    if PolicyReplay.objects.filter(pk=replay_id, status=PolicyReplay.Status.RUNNING, done=0).exists():
        policy_replay_run(replay_id)
