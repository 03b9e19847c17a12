"""The process-wide Redis client (rate limits, readiness), with short timeouts so an outage fails fast."""

from functools import lru_cache

import redis
from django.conf import settings


@lru_cache(maxsize=1)
def get_redis() -> redis.Redis:
    return redis.Redis.from_url(
        settings.REDIS_URL,
        socket_connect_timeout=0.5,
        socket_timeout=0.5,
        health_check_interval=10,
        retry_on_timeout=False,
    )
