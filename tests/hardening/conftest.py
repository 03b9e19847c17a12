"""Fixtures for hardening tests: the shop schema with its policy, an agent, Redis-backed settings."""

import pytest

from tests.policies.conftest import shop, shop_schema  # noqa: F401
from tests.support.moto_server import aws_credentials, moto_server, moto_url  # noqa: F401
from tests.support.redis_server import redis_server, redis_url, throwaway_redis_server  # noqa: F401


@pytest.fixture
def redis_settings(settings, redis_url):  # noqa: F811
    """Redis-backed hot path: the decision stream (own key), the identity cache, the Redis limiter."""
    import uuid

    from gqlgov.redis import get_redis
    from policies.checks.limiter import get_limiter

    settings.REDIS_URL = redis_url
    settings.GQLGOV_DECISION_STREAM = True
    settings.GQLGOV_DECISION_STREAM_KEY = f"gqlgov:test:{uuid.uuid4().hex}:decisions"
    settings.GQLGOV_AUTH_CACHE = True
    get_redis.cache_clear()
    get_limiter.cache_clear()
    yield settings
    get_redis().delete(settings.GQLGOV_DECISION_STREAM_KEY)
    get_redis.cache_clear()
    get_limiter.cache_clear()
