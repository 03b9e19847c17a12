"""Liveness and readiness probes."""

from django.conf import settings
from django.db import connection
from ninja import Router

from gqlgov.errors import ApiError

router = Router(tags=["health"])


@router.get("/health", operation_id="get_health")
def get_health(request):
    """Liveness: the process answers."""
    return {"status": "ok"}


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception:
        return False


def _redis_ok() -> bool:
    from gqlgov.redis import get_redis

    try:
        return bool(get_redis().ping())
    except Exception:
        return False


@router.get("/ready", operation_id="get_ready")
def get_ready(request):
    """Readiness: the database answers, and Redis when configured; 503 names what failed."""
    components = {"database": _database_ok()}
    if settings.REDIS_URL:
        components["redis"] = _redis_ok()
    failing = sorted(name for name, ok in components.items() if not ok)
    status = {name: "ok" if ok else "failing" for name, ok in components.items()}
    if failing:
        raise ApiError(
            "NOT_READY",
            f"Not ready: {', '.join(failing)} unavailable.",
            status=503,
            details={"components": status, "failing": failing},
            headers={"Retry-After": "5"},
        )
    return {"status": "ready", "components": status}
