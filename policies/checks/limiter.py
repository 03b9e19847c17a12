"""The process-wide rate limiter: Redis when REDIS_URL is set, else the single-process one."""

from functools import lru_cache, partial

from django.conf import settings

from gqlgov.redis import redis_client
from policies.ratelimit import Limiter, LocalLimiter, RedisLimiter, limiter_client_options, redis_client_for_limiter


@lru_cache(maxsize=1)
def get_limiter() -> Limiter:
    if settings.REDIS_URL:
        if settings.REDIS_CLUSTER:
            # Connected at the first check, so a cluster away at start-up is an outage like any other.
            client = partial(redis_client, settings.REDIS_URL, cluster=True, seeds=settings.REDIS_CLUSTER_NODES,
                             **limiter_client_options())
        else:
            client = redis_client_for_limiter(settings.REDIS_URL)
        return RedisLimiter(
            client,
            fail_open=settings.GQLGOV_RATE_LIMIT_FAIL_OPEN,
            key_prefix=settings.GQLGOV_RATE_LIMIT_KEY_PREFIX,
        )
    return LocalLimiter()
