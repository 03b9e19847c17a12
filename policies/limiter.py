"""The process-wide rate limiter: Redis when REDIS_URL is set, else the single-process one."""

from functools import lru_cache

from django.conf import settings

from policies.ratelimit import Limiter, LocalLimiter, RedisLimiter, redis_client_for_limiter


@lru_cache(maxsize=1)
def get_limiter() -> Limiter:
    if settings.REDIS_URL:
        return RedisLimiter(
            redis_client_for_limiter(settings.REDIS_URL),
            fail_open=settings.GQLGOV_RATE_LIMIT_FAIL_OPEN,
            key_prefix=settings.GQLGOV_RATE_LIMIT_KEY_PREFIX,
        )
    return LocalLimiter()
