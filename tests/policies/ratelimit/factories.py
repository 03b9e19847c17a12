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


class CountingConnection(redis.Connection):
    """Records the name of every command sent: each one is a round trip."""

    sent: list[str] = []
    _packing = False

    def send_command(self, *args: Any, **kwargs: Any) -> None:
        self.sent.append(str(args[0]).upper())
        self._packing = True
        try:
            super().send_command(*args, **kwargs)
        finally:
            self._packing = False

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        if not self._packing:  # a command sent already encoded: its name is its first bulk string
            self.sent.append(b"".join(command).split(b"\r\n")[2].decode().upper())
        super().send_packed_command(command, check_health)
