"""RedisLimiter against real redis-servers: processes, round trips, NOSCRIPT, keys, outages, cluster clients."""

from __future__ import annotations

import logging
import multiprocessing
import time
from functools import partial
from typing import Any

import pytest
import redis
from redis.cluster import RedisCluster
from redis.crc import key_slot

from policies.ratelimit import (
    GuardFailed,
    LimiterUnavailable,
    LimitSpec,
    Piggyback,
    RedisLimiter,
    limiter_client_options,
    redis_client_for_limiter,
)
from tests.policies.ratelimit.factories import (
    AGENT,
    CountingConnection,
    cost_spec,
    redis_client,
    redis_now_us,
    requests_spec,
)
from tests.support.ports import free_port
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.slow


def _hammer_from_process(url: str, key_prefix: str, barrier: Any, results: Any) -> None:
    client = redis_client(url)
    limiter, spec = RedisLimiter(client, key_prefix=key_prefix), requests_spec(100, 60)
    attempts = admitted = 0
    barrier.wait()
    started_us = redis_now_us(client)
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        attempts += 1
        admitted += limiter.acquire(AGENT, [spec]).allowed
    results.put((attempts, admitted, started_us, redis_now_us(client)))


def test_four_processes_admit_at_most_the_burst_plus_the_refill(redis_url: str, key_prefix: str) -> None:
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(4), context.Queue()
    processes = [
        context.Process(target=_hammer_from_process, args=(redis_url, key_prefix, barrier, results))
        for _ in range(4)
    ]
    spec = requests_spec(100, 60)

    for process in processes:
        process.start()
    reports = [results.get(timeout=60) for _ in processes]
    for process in processes:
        process.join()

    attempts, admitted = sum(report[0] for report in reports), sum(report[1] for report in reports)
    # Every admission happened between the first process's start and the last one's end (Redis time).
    elapsed_us = max(report[3] for report in reports) - min(report[2] for report in reports)
    assert all(process.exitcode == 0 for process in processes)
    assert attempts > admitted, "the limit was never reached: no contention measured"
    assert spec.burst <= admitted <= spec.burst + elapsed_us // spec.interval_us


def _counting_client(url: str) -> redis.Redis[Any]:
    return redis.Redis(
        connection_pool=redis.ConnectionPool.from_url(url, connection_class=CountingConnection)
    )


def _five_limits() -> list[LimitSpec]:
    return [
        requests_spec(600, 60),
        cost_spec(5000, 3600, weight=12),
        requests_spec(60, 60, burst=10, scope="rule:support-reads-orders"),
        cost_spec(1000, 60, weight=12, scope="rule:support-reads-orders"),
        requests_spec(30, 60, scope="rule:orders-by-customer"),
    ]


def test_one_acquire_is_one_round_trip_whatever_the_number_of_limits(redis_url: str, key_prefix: str) -> None:
    limiter = RedisLimiter(_counting_client(redis_url), key_prefix=key_prefix)
    limiter.acquire(AGENT, _five_limits())  # connects (the handshake is not part of a check)
    CountingConnection.sent.clear()

    outcome = limiter.acquire(AGENT, _five_limits())

    assert outcome.allowed and len(outcome.statuses) == 5
    assert CountingConnection.sent == ["EVALSHA"]


def test_script_flush_is_survived_by_reloading_the_script(throwaway_redis_server: RedisServer) -> None:
    limiter = RedisLimiter(_counting_client(throwaway_redis_server.url))
    assert limiter.acquire(AGENT, _five_limits()).allowed
    with throwaway_redis_server.client() as admin:
        admin.script_flush()
    CountingConnection.sent.clear()

    after_flush = limiter.acquire(AGENT, _five_limits())
    next_check = limiter.acquire(AGENT, _five_limits())

    assert after_flush.allowed and next_check.allowed
    assert next_check.statuses[0].remaining == 597
    assert CountingConnection.sent == ["EVALSHA", "SCRIPT LOAD", "EVALSHA", "EVALSHA"]


def test_keys_hold_one_integer_share_the_agents_cluster_slot_and_expire(
    redis_url: str, key_prefix: str
) -> None:
    hourly = [
        requests_spec(1, 3600),
        cost_spec(10, 3600, weight=5),
        requests_spec(2, 3600, scope="rule:support-reads-orders"),
    ]
    with redis_client(redis_url) as client:
        RedisLimiter(client, key_prefix=key_prefix).acquire(AGENT, hourly)
        keys = sorted(key.decode() for key in client.scan_iter(match=f"{key_prefix}*"))

        assert keys == sorted(f"{key_prefix}{spec.key}" for spec in hourly)
        assert keys[0] == f"{key_prefix}{{{AGENT}}}:default:cost:3600"
        assert len({key_slot(key.encode()) for key in keys}) == 1
        assert all((client.get(key) or b"").isdigit() for key in keys)  # one integer: the TAT in µs
        # Each key expires when its limit would be full again: after 1 of 1, 5 of 10, 1 of 2 per hour.
        assert [client.pttl(key) / 1000 for key in keys] == pytest.approx([1800, 3600, 1800], abs=5)


def _limiter_on(server: RedisServer, **options: Any) -> RedisLimiter:
    return RedisLimiter(redis_client_for_limiter(server.url), **options)


def _acquire_until_redis_answers(limiter: RedisLimiter) -> Any:
    deadline = time.monotonic() + 15
    while True:
        try:
            outcome = limiter.acquire(AGENT, [requests_spec(100, 60)])
        except LimiterUnavailable:
            outcome = None
        if (outcome is not None and not outcome.degraded) or time.monotonic() > deadline:
            return outcome
        time.sleep(0.1)


def test_fail_closed_raises_limiter_unavailable_while_redis_is_down_and_recovers(
    throwaway_redis_server: RedisServer,
) -> None:
    limiter = _limiter_on(throwaway_redis_server, probe_interval_s=0)
    assert limiter.acquire(AGENT, [requests_spec(100, 60)]).allowed

    throwaway_redis_server.kill()
    for _ in range(5):
        with pytest.raises(LimiterUnavailable) as raised:
            limiter.acquire(AGENT, [requests_spec(100, 60)])
        assert raised.value.retry_after_s >= 0
    throwaway_redis_server.start()

    recovered = _acquire_until_redis_answers(limiter)
    assert recovered is not None and recovered.allowed


def test_fail_open_admits_degraded_while_redis_is_down_and_recovers(
    throwaway_redis_server: RedisServer,
) -> None:
    limiter = _limiter_on(throwaway_redis_server, fail_open=True)
    assert not limiter.acquire(AGENT, [requests_spec(100, 60)]).degraded

    throwaway_redis_server.kill()
    while_down = [limiter.acquire(AGENT, [requests_spec(100, 60)]) for _ in range(5)]
    throwaway_redis_server.start()

    assert all(outcome.allowed and outcome.degraded and not outcome.statuses for outcome in while_down)
    recovered = _acquire_until_redis_answers(limiter)
    assert recovered is not None and recovered.allowed and not recovered.degraded


def test_outage_is_logged_once_per_interval_and_its_end_once(
    throwaway_redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    limiter = _limiter_on(throwaway_redis_server, probe_interval_s=0)
    limiter.acquire(AGENT, [requests_spec(100, 60)])
    caplog.set_level(logging.INFO, logger="policies.ratelimit")

    throwaway_redis_server.kill()
    for _ in range(20):
        with pytest.raises(LimiterUnavailable):
            limiter.acquire(AGENT, [requests_spec(100, 60)])
    throwaway_redis_server.start()
    _acquire_until_redis_answers(limiter)
    limiter.acquire(AGENT, [requests_spec(100, 60)])

    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 2, messages
    assert "unavailable" in messages[0] and "1 check(s) refused (fail-closed)" in messages[0]
    assert "available again" in messages[1]


def test_after_a_failure_redis_is_left_alone_for_the_probe_interval(
    throwaway_redis_server: RedisServer,
) -> None:
    limiter = _limiter_on(throwaway_redis_server, probe_interval_s=3600)
    throwaway_redis_server.kill()
    with pytest.raises(LimiterUnavailable):
        limiter.acquire(AGENT, [requests_spec(100, 60)])
    throwaway_redis_server.start()

    with pytest.raises(LimiterUnavailable) as raised:
        limiter.acquire(AGENT, [requests_spec(100, 60)])

    assert 3500 < raised.value.retry_after_s <= 3600


def test_never_admissible_weight_is_answered_without_redis(throwaway_redis_server: RedisServer) -> None:
    limiter = _limiter_on(throwaway_redis_server)
    throwaway_redis_server.kill()

    outcome = limiter.acquire(AGENT, [requests_spec(100, 60), cost_spec(1000, 60, weight=1001)])

    assert outcome.never_admissible and not outcome.allowed


def _stream_length(client: redis.Redis[Any], key: str) -> int:
    return int(client.xlen(key)) if client.exists(key) else 0


def test_a_piggyback_is_guarded_and_appended_in_the_same_round_trip(redis_url: str, key_prefix: str) -> None:
    guard, stream = f"{key_prefix}generation", f"{key_prefix}stream"
    limiter = RedisLimiter(_counting_client(redis_url), key_prefix=key_prefix)
    with redis_client(redis_url) as client:
        client.set(guard, "g1")
        limiter.acquire(AGENT, _five_limits())  # connects
        CountingConnection.sent.clear()

        outcome = limiter.acquire(AGENT, _five_limits(), piggyback=Piggyback(guard=(guard, "g1"), append=(stream, "r1")))

        assert outcome.allowed and outcome.appended
        assert CountingConnection.sent == ["EVALSHA"]
        assert [fields[b"r"] for _id, fields in client.xrange(stream)] == [b"r1"]
        assert outcome.statuses[0].remaining == 598


def test_a_failed_guard_charges_and_appends_nothing(redis_url: str, key_prefix: str) -> None:
    guard, stream = f"{key_prefix}generation", f"{key_prefix}stream"
    limiter = RedisLimiter(redis_client(redis_url), key_prefix=key_prefix)
    with redis_client(redis_url) as client:
        client.set(guard, "g2")
        for stale in ("g1", None):
            if stale is None:
                client.delete(guard)  # a restarted Redis: no generation is not a match either
            with pytest.raises(GuardFailed):
                limiter.acquire(AGENT, _five_limits(), piggyback=Piggyback(guard=(guard, "g1"), append=(stream, "r")))
        assert list(client.scan_iter(match=f"{key_prefix}{{*")) == []
        assert _stream_length(client, stream) == 0


def test_a_refused_request_is_not_appended(redis_url: str, key_prefix: str) -> None:
    stream = f"{key_prefix}stream"
    limiter = RedisLimiter(redis_client(redis_url), key_prefix=key_prefix)
    one_per_hour = [requests_spec(1, 3600)]
    with redis_client(redis_url) as client:
        admitted = limiter.acquire(AGENT, one_per_hour, piggyback=Piggyback(append=(stream, "first")))
        refused = limiter.acquire(AGENT, one_per_hour, piggyback=Piggyback(append=(stream, "second")))

        assert admitted.appended and not refused.allowed and not refused.appended
        assert [fields[b"r"] for _id, fields in client.xrange(stream)] == [b"first"]


def test_a_piggyback_without_limits_still_takes_one_round_trip(redis_url: str, key_prefix: str) -> None:
    guard, stream = f"{key_prefix}generation", f"{key_prefix}stream"
    limiter = RedisLimiter(_counting_client(redis_url), key_prefix=key_prefix)
    with redis_client(redis_url) as client:
        client.set(guard, "g1")
        limiter.acquire(AGENT, [], piggyback=Piggyback(guard=(guard, "g1")))  # connects
        CountingConnection.sent.clear()

        outcome = limiter.acquire(AGENT, [], piggyback=Piggyback(guard=(guard, "g1"), append=(stream, "r")))

        assert outcome.allowed and outcome.appended and not outcome.statuses
        assert CountingConnection.sent == ["EVALSHA"]
        assert _stream_length(client, stream) == 1


def test_on_a_cluster_a_piggyback_is_refused_before_anything_is_sent() -> None:
    limiter = RedisLimiter(lambda: pytest.fail("no connection is needed"))

    with pytest.raises(ValueError, match="Redis Cluster"):
        limiter.acquire(AGENT, [requests_spec(10, 60)], piggyback=Piggyback(guard=("generation", "g1")))


def test_a_cluster_no_node_of_which_answers_is_an_outage_not_an_error() -> None:
    nowhere = free_port()
    limiter = RedisLimiter(partial(RedisCluster.from_url, f"redis://127.0.0.1:{nowhere}/0", **limiter_client_options()))

    with pytest.raises(LimiterUnavailable):
        limiter.acquire(AGENT, [requests_spec(10, 60)])
    with pytest.raises(LimiterUnavailable):  # the next call within the probe interval: at once
        limiter.acquire(AGENT, [requests_spec(10, 60)])
