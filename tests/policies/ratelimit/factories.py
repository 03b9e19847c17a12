"""Small typed helpers shared by the rate limiter tests."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import redis

from policies.ratelimit import Limiter, LimitSpec, LimitStatus

AGENT = "support-bot"


def requests_spec(
    limit: int, period_s: int, *, burst: int | None = None, scope: str = "default"
) -> LimitSpec:
    return LimitSpec.for_agent(
        AGENT, kind="requests", limit=limit, period_s=period_s, burst=burst, scope=scope
    )


def cost_spec(limit: int, period_s: int, *, weight: int, scope: str = "default") -> LimitSpec:
    return LimitSpec.for_agent(AGENT, kind="cost", limit=limit, period_s=period_s, weight=weight, scope=scope)


def peek(limiter: Limiter, *specs: LimitSpec) -> list[LimitStatus]:
    """The limits' current statuses: a weight-0 acquire charges nothing."""
    outcome = limiter.acquire(AGENT, [replace(spec, weight=0) for spec in specs])
    assert outcome.allowed
    return list(outcome.statuses)


def redis_client(url: str, **kwargs: Any) -> redis.Redis[Any]:
    """A client with generous timeouts: contention tests must measure the limiter, not the scheduler."""
    return redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=5, **kwargs)


def redis_now_us(client: redis.Redis[Any]) -> int:
    seconds, microseconds = client.time()
    return int(seconds) * 1_000_000 + int(microseconds)
