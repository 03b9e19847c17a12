"""In-process limiter for the embedded default (no Redis).

SINGLE PROCESS ONLY: each process keeps its own state, so N web processes admit N times the
configured limits. Use RedisLimiter whenever more than one process serves checks.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from policies.ratelimit.outcome import LimitOutcome, Piggyback, outcome_from_state, outcome_without_state
from policies.ratelimit.specs import LimitSpec

# Sweep expired state once the table has grown past this size (then past twice its live size).
_MIN_SWEEP_SIZE = 1024


class LocalLimiter:
    """Thread-safe GCRA over a dict; the same semantics as RedisLimiter's script."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tats_us: dict[str, int] = {}
        self._sweep_at = _MIN_SWEEP_SIZE

    def acquire(self, agent: str, specs: Sequence[LimitSpec], *, piggyback: Piggyback | None = None,
                delegator: str | None = None) -> LimitOutcome:
        """Charge every spec (the agent's, and the delegator's when given) if all admit the
        request, or none; say which refused and when to retry.

        A piggyback is ignored (there is no Redis): the outcome's `appended` stays False.
        """
        decided = outcome_without_state(agent, specs, delegator)
        if decided is not None:
            return decided
        with self._lock:
            now = time.monotonic_ns() // 1000
            tats = [max(self._tats_us.get(spec.key, now), now) for spec in specs]
            refused_index, retry_us = None, 0
            for index, (spec, tat) in enumerate(zip(specs, tats, strict=True)):
                wait = tat + (spec.weight - spec.burst) * spec.interval_us - now
                if wait > retry_us:
                    refused_index, retry_us = index, wait
            if refused_index is None:
                tats = [tat + spec.weight * spec.interval_us for spec, tat in zip(specs, tats, strict=True)]
                self._tats_us.update(
                    (spec.key, tat) for spec, tat in zip(specs, tats, strict=True) if spec.weight
                )
                self._sweep_expired(now)
        return outcome_from_state(specs, refused_index, retry_us, [tat - now for tat in tats])

    def _sweep_expired(self, now: int) -> None:
        # A TAT in the past means "full", exactly like a missing entry: drop it to bound memory.
        if len(self._tats_us) >= self._sweep_at:
            self._tats_us = {key: tat for key, tat in self._tats_us.items() if tat > now}
            self._sweep_at = max(_MIN_SWEEP_SIZE, 2 * len(self._tats_us))
