"""Rate limits in policy syntax, `{requests|cost: N, per: PERIOD, burst: B}`: the one place their
rules live.

The policy compiler reports every problem found here with the rule id and field, and the limiter
(`policies.ratelimit`) builds its specs from the same parse, so a policy that loads can always be
enforced.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

KINDS = ("requests", "cost")
PERIOD_SECONDS = {"second": 1, "minute": 60, "hour": 3_600, "day": 86_400}
ENTRY_KEYS = frozenset({*KINDS, "per", "burst"})
# The limiter keeps its state in whole microseconds, so one unit needs at least one microsecond.
MAX_UNITS_PER_SECOND = 1_000_000


@dataclass(frozen=True, slots=True)
class RateLimit:
    """One rate limit of a rule or of the defaults (enforced by the limiter, not the engine)."""

    kind: str  # "requests" | "cost"
    limit: int
    per: str
    burst: int

    @property
    def period_seconds(self) -> int:
        return PERIOD_SECONDS[self.per]


@dataclass(frozen=True, slots=True)
class RateLimitProblem:
    """Why one entry of a rate limit list was refused."""

    position: int  # the entry's index in its list
    key: str | None  # the entry's key at fault; None for the entry as a whole
    message: str

    def describe(self) -> str:
        return f"{self.key!r} {self.message}" if self.key else self.message


def max_units(period_seconds: int) -> int:
    """The largest limit a period of `period_seconds` supports."""
    return period_seconds * MAX_UNITS_PER_SECOND


def parse_rate_limits(entries: Sequence[Any]) -> tuple[tuple[RateLimit, ...], tuple[RateLimitProblem, ...]]:
    """The rate limits one scope (the defaults or one rule) lists, and every problem found;
    an entry with a problem is left out."""
    limits: list[RateLimit] = []
    problems: list[RateLimitProblem] = []
    first_of: dict[tuple[str, str], int] = {}  # (kind, per) -> position of its first entry
    for position, entry in enumerate(entries):
        found = _entry_problems(entry)
        if found:
            problems.extend(RateLimitProblem(position, key, message) for key, message in found)
            continue
        kind = next(kind for kind in KINDS if kind in entry)
        limit = RateLimit(kind, entry[kind], entry["per"], entry.get("burst", entry[kind]))
        first = first_of.setdefault((limit.kind, limit.per), position)
        if first != position:
            # The limiter keeps one state per agent, scope, kind and period.
            problems.append(
                RateLimitProblem(position, None, f"has the same kind and period as rate limit [{first}]")
            )
            continue
        limits.append(limit)
    return tuple(limits), tuple(problems)


def _entry_problems(entry: Any) -> list[tuple[str | None, str]]:
    if not isinstance(entry, Mapping):
        return [(None, "must be a mapping")]
    problems: list[tuple[str | None, str]] = []
    unknown = sorted(str(key) for key in entry if key not in ENTRY_KEYS)
    if unknown:
        problems.append((None, f"unknown keys {unknown}"))
    kinds = [kind for kind in KINDS if kind in entry]
    if len(kinds) != 1:
        problems.append((None, "needs exactly one of 'requests' or 'cost'"))
    per = entry.get("per")
    if per not in PERIOD_SECONDS:
        problems.append(("per", f"must be one of {', '.join(PERIOD_SECONDS)}"))
    for key in (*kinds, "burst"):
        if key in entry and not _positive_integer(entry[key]):
            problems.append((key, "must be a positive integer"))
    if len(kinds) == 1 and per in PERIOD_SECONDS and _positive_integer(entry[kinds[0]]):
        ceiling = max_units(PERIOD_SECONDS[per])
        if entry[kinds[0]] > ceiling:
            problems.append(
                (kinds[0], f"must be at most {ceiling:,} per {per} (1,000,000 units per second at most)")
            )
        burst = entry.get("burst")
        if _positive_integer(burst) and burst > entry[kinds[0]]:
            # The bucket holds one period's quota at most: a larger burst is no longer the rate.
            problems.append(
                ("burst", f"must be at most {entry[kinds[0]]:,}, the {kinds[0]} per {per} it belongs to")
            )
    return problems


def _positive_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1
