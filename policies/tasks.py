"""Celery tasks of the policies app: fetch by id, call one service, nothing else.

The export's tasks are the gateway app's: policies/gateway/tasks.py.
"""

from celery import shared_task


@shared_task(name="policies.drain_decisions", acks_late=True, ignore_result=True)
def drain_decisions() -> int:
    """Moves decision records from the Redis stream into the database (beat: GQLGOV_DECISION_DRAIN_INTERVAL_S)."""
    from policies.checks.drainer import drain

    return drain()
