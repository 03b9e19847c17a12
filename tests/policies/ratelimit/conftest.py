"""Each semantic test runs against both limiters; the Redis one talks to a real redis-server and to a
real Redis Cluster."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial

import pytest
from redis.cluster import RedisCluster as ClusterClient

from policies.ratelimit import Limiter, LocalLimiter, RedisLimiter
from tests.policies.ratelimit.factories import redis_client, redis_now_us
from tests.support.redis_cluster import RedisCluster, shared_redis_cluster  # noqa: F401
from tests.support.redis_server import redis_server, redis_url, throwaway_redis_server  # noqa: F401


@dataclass(frozen=True)
class LimiterUnderTest:
    limiter: Limiter
    now_us: Callable[[], int]  # the clock this limiter decides by


@pytest.fixture
def key_prefix(redis_url: str) -> Iterator[str]:  # noqa: F811
    """A key prefix of this test's own; its keys are deleted afterwards (REDIS_URL is never flushed)."""
    prefix = f"test-rl-{uuid.uuid4().hex}:"
    yield prefix
    with redis_client(redis_url) as client:
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)


@pytest.fixture(params=["local", pytest.param("redis", marks=pytest.mark.slow),
                        pytest.param("redis cluster", marks=pytest.mark.slow)])
def under_test(request: pytest.FixtureRequest) -> Iterator[LimiterUnderTest]:
    if request.param == "local":
        yield LimiterUnderTest(LocalLimiter(), lambda: time.monotonic_ns() // 1000)
        return
    if request.param == "redis cluster":
        cluster: RedisCluster = request.getfixturevalue("shared_redis_cluster")
        connect = partial(ClusterClient.from_url, cluster.url, socket_connect_timeout=5, socket_timeout=5)
        limiter = RedisLimiter(connect, key_prefix=f"test-rl-{uuid.uuid4().hex}:")
        with connect() as client:
            yield LimiterUnderTest(limiter, lambda: redis_now_us(client))
        return
    url: str = request.getfixturevalue("redis_url")
    prefix: str = request.getfixturevalue("key_prefix")
    with redis_client(url) as client:
        yield LimiterUnderTest(RedisLimiter(client, key_prefix=prefix), lambda: redis_now_us(client))
