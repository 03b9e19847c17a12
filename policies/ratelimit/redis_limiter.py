"""Redis limiter: all limits of a request checked and charged by one Lua script in one round trip.

The same round trip can carry a check's other Redis work (a Piggyback): the identity cache's
generation guard and the decision record's XADD, so a warm check talks to Redis once.

Works on Redis Cluster/ElastiCache: every key of a request carries the agent's hash tag, so they
share one slot, and the script runs on that slot's master (ClusterScriptCaller). The piggyback's
keys are not the agent's, so on a cluster the caller passes none. Each key holds one integer (the
GCRA TAT in microseconds of Redis server time) and expires when it would mean "full" anyway.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.exceptions import (
    ClusterError,
    ConnectionError,
    NoScriptError,
    ReadOnlyError,
    RedisClusterException,
    TimeoutError,
    TryAgainError,
)
from redis.retry import Retry

from policies.ratelimit.outcome import (
    GuardFailed,
    LimiterUnavailable,
    LimitOutcome,
    Piggyback,
    outcome_from_state,
    outcome_without_state,
)
from policies.ratelimit.specs import LimitSpec, agent_key_prefix

logger = logging.getLogger(__name__)

# Mirrors LocalLimiter.acquire. ARGV[1] is the number n of limits; KEYS[i] (i <= n) holds one
# limit's TAT and ARGV has (interval_us, burst, weight) per limit from ARGV[4]. TIME is Redis
# server time, so web process clocks never matter (Redis 5+ replicates a script's effects, not
# the script, so calling TIME before writing is allowed).
# The piggyback (see Piggyback), in the same atomic step: ARGV[2] non-empty requires
# GET KEYS[n+1] == ARGV[2] before anything else (else returns {-1}); ARGV[3] non-empty is XADDed
# (field 'r') to the last key when the request is admitted.
# Returns {refused index (1-based, 0 if admitted), retry_us, appended (0/1), backlog_us of each key}.
_GCRA_SCRIPT = """
local n, guard, record = tonumber(ARGV[1]), ARGV[2], ARGV[3]
if guard ~= '' and redis.call('GET', KEYS[n + 1]) ~= guard then return {-1} end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local tats, refused, retry = {}, 0, 0
for i = 1, n do
  local interval, burst, weight = tonumber(ARGV[3*i+1]), tonumber(ARGV[3*i+2]), tonumber(ARGV[3*i+3])
  tats[i] = math.max(tonumber(redis.call('GET', KEYS[i])) or now, now)
  local wait = tats[i] + (weight - burst) * interval - now
  if wait > retry then refused, retry = i, wait end
end
local result = {refused, retry, 0}
for i = 1, n do
  local weight = tonumber(ARGV[3*i+3])
  if refused == 0 and weight > 0 then
    tats[i] = tats[i] + weight * tonumber(ARGV[3*i+1])
    -- '%d' keeps all digits; Lua's default number formatting would round to 14 significant digits.
    local ttl_ms = math.ceil((tats[i] - now) / 1000)
    redis.call('SET', KEYS[i], string.format('%d', tats[i]), 'PX', string.format('%d', ttl_ms))
  end
  result[i + 3] = tats[i] - now
end
if refused == 0 and record ~= '' then
  redis.call('XADD', KEYS[#KEYS], '*', 'r', record)
  result[3] = 1
end
return result
"""

# Errors meaning "Redis is not there (or not writable) right now", as opposed to a bug. On a
# cluster also: the cluster is down or a slot's master failing over (ClusterDownError,
# MasterDownError, TRYAGAIN), or its topology unreadable (RedisClusterException: no node answers,
# slots not covered). The script's keys are all one agent's (checked before), so a cross-slot
# RedisClusterException cannot come from here.
_UNAVAILABLE_ERRORS = (ConnectionError, TimeoutError, ReadOnlyError, ClusterError, TryAgainError,
                       RedisClusterException)

# A Redis client, or for Redis Cluster a client or a function connecting one (RedisCluster connects
# at once, so a function lets the limiter start while the cluster is away).
RedisConnector = redis.Redis | RedisCluster | Callable[[], RedisCluster]


def limiter_client_options(timeout_s: float = 0.25) -> dict[str, Any]:
    """Client options under which a call gives up within `timeout_s` per attempt when Redis is away.

    The retry re-attempts a failed command once (on a cluster: at the new master after a
    failover); replacing a connection that a Redis restart left broken is ScriptCaller's one
    immediate resend (after a lost reply it may charge twice: conservative, never admits more).
    """
    return {"socket_connect_timeout": timeout_s, "socket_timeout": timeout_s, "retry": Retry(NoBackoff(), 1)}


def redis_client_for_limiter(url: str, *, timeout_s: float = 0.25) -> redis.Redis[Any]:
    """A client with `limiter_client_options`."""
    return redis.Redis.from_url(url, **limiter_client_options(timeout_s))


class ScriptCaller:
    """EVALSHA of one Lua script on a connection of its own per thread, loading the script on NOSCRIPT.

    The check's one round trip without redis-py's per-command work: no pool checkout with its
    readiness poll, and the command packed by the connection and written directly. The connection
    is redis-py's (so TLS, AUTH, database selection and timeouts are the client's), reconnected on
    failure.
    """

    def __init__(self, client: redis.Redis[Any], script: str) -> None:
        self.connection_pool = client.connection_pool  # its class and settings make the connections
        self._script = script
        self._sha = hashlib.sha1(script.encode("utf-8"), usedforsecurity=False).hexdigest()
        self._local = threading.local()

    def __call__(self, keys: Sequence[str], args: Sequence[str | int]) -> Any:
        """The script's reply; raises redis errors. A broken connection (a Redis restart leaves one
        behind) is replaced and the call sent once more at once."""
        parts = ("EVALSHA", self._sha, len(keys), *keys, *args)
        try:
            return self._send(self._connection(), parts)
        except (ConnectionError, TimeoutError):
            return self._send(self._connection(), parts)

    def _send(self, connection: redis.Connection, parts: Sequence[str | int]) -> Any:
        try:
            command = connection.pack_command(*parts)
            connection.send_packed_command(command, check_health=False)
            try:
                return connection.read_response()
            except NoScriptError:  # a restarted or flushed Redis: load the script, then run it
                connection.send_command("SCRIPT LOAD", self._script)
                connection.read_response()
                connection.send_packed_command(command, check_health=False)
                return connection.read_response()
        except BaseException:
            # Broken, or out of step with its replies (one may still be on its way): never reuse it.
            self._drop_connection()
            raise

    def _connection(self) -> redis.Connection:
        local = self._local
        if getattr(local, "pid", None) != os.getpid():  # never share a socket across a fork
            pool = self.connection_pool
            local.connection, local.pid = pool.connection_class(**pool.connection_kwargs), os.getpid()
        return local.connection  # type: ignore[no-any-return]

    def _drop_connection(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None and getattr(self._local, "pid", None) == os.getpid():
            connection.disconnect()
        self._local.pid = None


class ClusterScriptCaller:
    """EVALSHA of one Lua script through a RedisCluster client, which sends it to the master of the
    keys' slot and, after a failover, reads the new topology and retries there. NOSCRIPT (a
    promoted replica may lack the script) is answered by EVAL, which also caches it on that node.
    """

    def __init__(self, connect: RedisCluster | Callable[[], RedisCluster], script: str) -> None:
        self._connect = connect
        self._script = script
        self._sha = hashlib.sha1(script.encode("utf-8"), usedforsecurity=False).hexdigest()
        self._client: RedisCluster | None = connect if isinstance(connect, RedisCluster) else None
        self._pid: int | None = os.getpid() if self._client is not None else None
        self._lock = threading.Lock()

    def __call__(self, keys: Sequence[str], args: Sequence[str | int]) -> Any:
        """The script's reply; raises redis errors (RedisClusterException: no usable topology)."""
        client = self._cluster()
        try:
            return client.evalsha(self._sha, len(keys), *keys, *args)
        except NoScriptError:
            return client.eval(self._script, len(keys), *keys, *args)

    def _cluster(self) -> RedisCluster:
        with self._lock:
            if self._client is None or self._pid != os.getpid():  # never share sockets across a fork
                connect = self._connect
                self._client = connect if isinstance(connect, RedisCluster) else connect()
                self._pid = os.getpid()
            return self._client


class RedisLimiter:
    """GCRA limits shared by every process using the same Redis.

    When Redis cannot be reached, `acquire` raises LimiterUnavailable (fail closed) or, with
    `fail_open`, returns an allowed outcome flagged `degraded`. After a failure, Redis is left
    alone for `probe_interval_s` (calls answer at once), then tried again: recovery needs no
    restart. The outage is logged at most once per `outage_log_interval_s`, and its end once.
    """

    def __init__(
        self,
        redis_client: RedisConnector,
        *,
        fail_open: bool = False,
        key_prefix: str = "gqlgov:rl:",
        probe_interval_s: float = 1.0,
        outage_log_interval_s: float = 30.0,
    ) -> None:
        self._cluster = not isinstance(redis_client, redis.Redis)
        self._script: ScriptCaller | ClusterScriptCaller = (
            ClusterScriptCaller(redis_client, _GCRA_SCRIPT) if self._cluster
            else ScriptCaller(redis_client, _GCRA_SCRIPT)  # type: ignore[arg-type]
        )
        self._fail_open = fail_open
        self._key_prefix = key_prefix
        self._probe_interval_s = probe_interval_s
        self._outage_log_interval_s = outage_log_interval_s
        self._lock = threading.Lock()
        self._next_probe = 0.0
        self._outage_started: float | None = None
        self._last_outage_log = -math.inf
        self._unlogged_failures = 0

    def acquire(self, agent: str, specs: Sequence[LimitSpec], *, piggyback: Piggyback | None = None,
                delegator: str | None = None) -> LimitOutcome:
        """Charge every spec if all admit the request, or none; say which refused and when to retry.

        The specs are `agent`'s and, in a check on behalf of a person, `delegator`'s too: both are
        charged in the one script. With a piggyback, its guard is checked first (GuardFailed:
        nothing charged) and its record appended on admission, all in the same single round trip;
        `appended` says whether it was. On a cluster a piggyback is refused (ValueError): its keys
        live in other slots.
        """
        if self._cluster and piggyback is not None:
            raise ValueError("a piggyback's keys are not the agent's: on Redis Cluster pass none")
        decided = outcome_without_state(agent, specs, delegator)
        if decided is not None and (piggyback is None or not decided.allowed):
            return decided
        if self._cluster and delegator is not None and delegator != agent:
            return self._acquire_in_two_slots(agent, delegator, specs)
        if time.monotonic() < self._next_probe:
            return self._unavailable(None)
        keys = [self._key_prefix + spec.key for spec in specs]
        args: list[Any] = [len(specs), "", ""]
        if piggyback is not None:
            if piggyback.guard is not None:
                keys.append(piggyback.guard[0])
                args[1] = piggyback.guard[1]
            if piggyback.append is not None:
                keys.append(piggyback.append[0])
                args[2] = piggyback.append[1]
        args += [value for spec in specs for value in (spec.interval_us, spec.burst, spec.weight)]
        try:
            refused, *rest = self._script(keys, args)
        except _UNAVAILABLE_ERRORS as error:
            return self._unavailable(error)
        if self._outage_started is not None:
            self._end_outage()
        if refused < 0:
            raise GuardFailed()
        retry_us, appended, *backlogs_us = rest
        if not specs:
            return LimitOutcome(allowed=True, appended=bool(appended))
        outcome = outcome_from_state(specs, refused - 1 if refused else None, retry_us, backlogs_us)
        return dataclasses.replace(outcome, appended=True) if appended else outcome

    def _acquire_in_two_slots(self, agent: str, delegator: str, specs: Sequence[LimitSpec]) -> LimitOutcome:
        """On a cluster the agent's and the person's keys live in two slots, which no one script
        reaches: the person's limits are charged first, then (if they admit) the agent's. A refusal
        by the agent's limits then leaves the person's charge in place (at most one unit too many)."""
        prefix = agent_key_prefix(delegator)
        theirs = [spec.key.startswith(prefix) for spec in specs]
        first = self.acquire(delegator, [spec for spec, person in zip(specs, theirs, strict=True) if person])
        if not first.allowed:
            return first
        second = self.acquire(agent, [spec for spec, person in zip(specs, theirs, strict=True) if not person])
        # Back in the specs' order, as one script would have answered.
        persons, agents = iter(first.statuses), iter(second.statuses)
        statuses = first.statuses + second.statuses
        if len(statuses) == len(specs):
            statuses = tuple(next(persons if person else agents) for person in theirs)
        if not second.allowed or first.tightest is None:
            return dataclasses.replace(second, statuses=statuses)
        tightest = min(statuses, key=lambda status: status.remaining / status.burst)
        return dataclasses.replace(second, statuses=statuses, tightest=tightest,
                                   degraded=first.degraded or second.degraded)

    def _unavailable(self, error: Exception | None) -> LimitOutcome:
        with self._lock:
            now = time.monotonic()
            if error is not None:
                self._next_probe = now + self._probe_interval_s
            if self._outage_started is None:
                self._outage_started = now
            self._unlogged_failures += 1
            retry_after_s = max(0.0, self._next_probe - now)
            log_now = now - self._last_outage_log >= self._outage_log_interval_s
            if log_now:
                failures, self._unlogged_failures, self._last_outage_log = self._unlogged_failures, 0, now
        if log_now:
            logger.error(
                "Rate limiter Redis unavailable (%s); %d check(s) %s since the last report",
                error or "waiting before the next attempt",
                failures,
                "admitted unlimited (fail-open)" if self._fail_open else "refused (fail-closed)",
            )
        if self._fail_open:
            return LimitOutcome(allowed=True, degraded=True)
        raise LimiterUnavailable(retry_after_s)

    def _end_outage(self) -> None:
        with self._lock:
            started, self._outage_started = self._outage_started, None
            self._last_outage_log, self._unlogged_failures = -math.inf, 0
        if started is not None:
            logger.warning("Rate limiter Redis available again after %.1f s", time.monotonic() - started)
