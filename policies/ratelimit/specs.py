"""Rate limit specifications: what one request is charged against, parsed from policy syntax."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["requests", "cost"]

_KINDS: tuple[Kind, ...] = ("requests", "cost")

PERIODS: dict[str, int] = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}

MICROSECONDS = 1_000_000


@dataclass(frozen=True, slots=True)
class LimitSpec:
    """One limit applied to one request: `limit` units per `period_s`, at most `burst` at once.

    `key` identifies the limit's state (one per agent, scope, kind and period) and starts with the
    agent's Redis Cluster hash tag, so all of one agent's keys live in one slot. `weight` is what
    this request consumes: 1 for request limits, the document cost for cost budgets; weight 0
    reads the limit's status without charging it.
    """

    key: str
    kind: Kind
    limit: int
    period_s: int
    burst: int
    weight: int
    policy_name: str

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"{self.policy_name}: kind must be 'requests' or 'cost', not {self.kind!r}")
        if self.limit < 1 or self.period_s < 1 or self.burst < 1 or self.weight < 0:
            raise ValueError(f"{self.policy_name}: limit, period and burst must be positive, weight >= 0")
        # State is kept in whole microseconds, so one unit needs at least one microsecond.
        if self.limit > self.period_s * MICROSECONDS:
            raise ValueError(f"{self.policy_name}: more than 1,000,000 units per second is not supported")

    @classmethod
    def for_agent(
        cls,
        agent: str,
        *,
        kind: Kind,
        limit: int,
        period_s: int,
        burst: int | None = None,
        scope: str = "default",
        weight: int = 1,
        policy_name: str | None = None,
    ) -> LimitSpec:
        """The spec of `agent` for a limit in `scope` ("default", "rule:<id>" or "denied")."""
        return cls(
            key=f"{agent_key_prefix(agent)}{scope}:{kind}:{period_s}",
            kind=kind,
            limit=limit,
            period_s=period_s,
            burst=limit if burst is None else burst,
            weight=weight,
            policy_name=policy_name or f"{_scope_label(scope)}/{kind}",
        )

    @property
    def interval_us(self) -> int:
        """Time one unit takes to refill, rounded up so the configured rate is never exceeded."""
        return -(-self.period_s * MICROSECONDS // self.limit)

    @property
    def never_admissible(self) -> bool:
        """True when this request alone outweighs the whole capacity, so no wait would let it pass."""
        return self.weight > self.burst


def agent_key_prefix(agent: str) -> str:
    """The start of every key of `agent`: a Redis Cluster hash tag, so one script can use them all."""
    return f"{{{agent}}}:"


def _scope_label(scope: str) -> str:
    if scope == "default":
        return "defaults"
    return scope.removeprefix("rule:")


def specs_from_policy(
    rate_limits: Sequence[Mapping[str, Any]], *, agent: str, scope: str, cost: int
) -> list[LimitSpec]:
    """Specs for the policy entries `{requests|cost: N, per: PERIOD, burst: B}` of one scope.

    Request limits weigh 1, cost budgets weigh `cost`. Names are `<rule id or "defaults">/<kind>`,
    with `/<period>` appended when the scope has several limits of one kind. Raises ValueError
    naming the offending entry.
    """
    parsed = [_parse_entry(entry, scope) for entry in rate_limits]
    kinds = Counter(kind for kind, _, _, _ in parsed)
    if len({(kind, per) for kind, _, per, _ in parsed}) < len(parsed):
        raise ValueError(f"{_scope_label(scope)}: two rate limits with the same kind and period")
    label = _scope_label(scope)
    return [
        LimitSpec.for_agent(
            agent,
            kind=kind,
            limit=limit,
            period_s=PERIODS[per],
            burst=burst,
            scope=scope,
            weight=cost if kind == "cost" else 1,
            policy_name=f"{label}/{kind}/{per}" if kinds[kind] > 1 else f"{label}/{kind}",
        )
        for kind, limit, per, burst in parsed
    ]


def _parse_entry(entry: Mapping[str, Any], scope: str) -> tuple[Kind, int, str, int | None]:
    where = f"{_scope_label(scope)}: rate limit {dict(entry)!r}"
    unknown = set(entry) - {"requests", "cost", "per", "burst"}
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}")
    kinds = [kind for kind in _KINDS if kind in entry]
    if len(kinds) != 1:
        raise ValueError(f"{where}: needs exactly one of 'requests' or 'cost'")
    kind = kinds[0]
    per = entry.get("per")
    if per not in PERIODS:
        raise ValueError(f"{where}: 'per' must be one of {', '.join(PERIODS)}")
    limit, burst = entry[kind], entry.get("burst")
    for name, value in ((kind, limit), ("burst", burst)):
        if value is not None and (type(value) is not int or value < 1):
            raise ValueError(f"{where}: {name!r} must be a positive integer")
    return kind, limit, per, burst


def denied_checks_spec(agent: str, per_minute: int = 300) -> LimitSpec:
    """The separate per-agent ceiling on denied checks, so a misbehaving agent cannot flood us."""
    return LimitSpec.for_agent(
        agent, kind="requests", limit=per_minute, period_s=60, scope="denied", policy_name="denied-checks"
    )
