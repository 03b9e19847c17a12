"""What a limiter answers, and the GCRA arithmetic both limiters share to build that answer.

GCRA (generic cell rate algorithm) keeps one number per limit: the theoretical arrival time
(TAT), the instant at which the limit would be completely refilled. A request of weight w is
admitted at `now` when `max(TAT, now) + w * interval - burst * interval <= now`, and then moves
TAT forward by `w * interval`. The "backlog" below is `TAT - now`, clamped at 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from policies.ratelimit.specs import MICROSECONDS, Kind, LimitSpec, agent_key_prefix


@dataclass(frozen=True, slots=True)
class LimitStatus:
    """A limit as seen right after the request, in the terms of the IETF RateLimit headers.

    `remaining`: units a request could use now. `reset_after_s`: seconds until one more unit
    becomes available (0 when the limit is full); within that time no more than `remaining`
    can be used (draft-ietf-httpapi-ratelimit-headers-11, "effective window").
    """

    limit: int
    remaining: int
    reset_after_s: float
    policy_name: str
    period_s: int
    burst: int
    kind: Kind


@dataclass(frozen=True, slots=True)
class LimitOutcome:
    """The answer for one request.

    `statuses` has one entry per spec, in order. `tightest` is the refusing limit's status, or
    the one with the smallest share of its capacity left (None when nothing was measured).
    When refused, `refused` is the limit that refused (the one with the longest wait if several
    did) and `retry_after_s` when a retry will be admitted. `never_admissible` means the weight
    exceeds `refused`'s whole capacity: no retry helps. `degraded` means the limiter could not
    be reached and is failing open.
    """

    allowed: bool
    statuses: tuple[LimitStatus, ...] = ()
    tightest: LimitStatus | None = None
    refused: LimitSpec | None = None
    retry_after_s: float = 0.0
    never_admissible: bool = False
    degraded: bool = False
    appended: bool = False  # the Piggyback's record went onto its stream in the same round trip


@dataclass(frozen=True, slots=True)
class Piggyback:
    """Redis work done atomically with the charge, in the limiter's one round trip (RedisLimiter only).

    `guard`: (key, value) that must hold, else nothing is charged or appended and the limiter
    raises GuardFailed (the caller's cached identity is stale: it reloads and asks again).
    `append`: (stream key, record) XADDed as field `r` when the request is admitted.
    These keys are not the agent's: on Redis Cluster pass no piggyback.
    """

    guard: tuple[str, str] | None = None
    append: tuple[str, str] | None = None


class GuardFailed(Exception):
    """The Piggyback's guard did not hold: nothing was charged or appended."""


class Limiter(Protocol):
    def acquire(self, agent: str, specs: Sequence[LimitSpec], *, piggyback: Piggyback | None = None,
                delegator: str | None = None) -> LimitOutcome:
        """Charge every spec if all admit the request, or none; say which refused and when to retry.

        The specs are `agent`'s, and in a check on behalf of a person also `delegator`'s."""
        ...


class LimiterUnavailable(Exception):
    """The shared limiter state cannot be reached and the limiter fails closed."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__(f"rate limiter unavailable; retry after {retry_after_s:g} s")
        self.retry_after_s = retry_after_s


def outcome_without_state(agent: str, specs: Sequence[LimitSpec], delegator: str | None = None) -> LimitOutcome | None:
    """The outcome needing no limiter state (no limits, or a never-admissible weight), else None."""
    prefixes = tuple(agent_key_prefix(owner) for owner in (agent, delegator) if owner is not None)
    foreign = [spec.key for spec in specs if not spec.key.startswith(prefixes)]
    if foreign:
        # Keys are named by whose limits they hold (one Cluster slot per principal): nobody else's.
        raise ValueError(f"keys {foreign} do not belong to agent {agent!r} or delegator {delegator!r}")
    if not specs:
        return LimitOutcome(allowed=True)
    for spec in specs:
        if spec.never_admissible:
            return LimitOutcome(allowed=False, refused=spec, never_admissible=True)
    return None


def outcome_from_state(
    specs: Sequence[LimitSpec], refused_index: int | None, retry_after_us: int, backlogs_us: Sequence[int]
) -> LimitOutcome:
    """Build the outcome from a GCRA evaluation: the refusing spec (or None) and each limit's backlog."""
    statuses = tuple(_status(spec, backlog) for spec, backlog in zip(specs, backlogs_us, strict=True))
    if refused_index is not None:
        return LimitOutcome(
            allowed=False,
            statuses=statuses,
            tightest=statuses[refused_index],
            refused=specs[refused_index],
            retry_after_s=retry_after_us / MICROSECONDS,
        )
    tightest = min(statuses, key=lambda status: status.remaining / status.burst)
    return LimitOutcome(allowed=True, statuses=statuses, tightest=tightest)


def _status(spec: LimitSpec, backlog_us: int) -> LimitStatus:
    interval = spec.interval_us
    capacity = spec.burst * interval
    # A backlog above the capacity happens only after a policy lowered the burst.
    remaining = max(0, (capacity - backlog_us) // interval)
    next_unit_us = 0 if remaining == spec.burst else backlog_us - (capacity - (remaining + 1) * interval)
    return LimitStatus(
        limit=spec.limit,
        remaining=remaining,
        reset_after_s=next_unit_us / MICROSECONDS,
        policy_name=spec.policy_name,
        period_s=spec.period_s,
        burst=spec.burst,
        kind=spec.kind,
    )
