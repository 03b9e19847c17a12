"""Rate limit specifications: what one request is charged against, parsed from policy syntax."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

# The policy syntax and its rules belong to the engine, which refuses at load time what the
# limiter could not enforce; this module only turns valid entries into specs.
from policies.engine.ratelimits import KINDS, PERIOD_SECONDS, max_units, parse_rate_limits

Kind = Literal["requests", "cost"]

PERIODS: dict[str, int] = PERIOD_SECONDS

MICROSECONDS = 1_000_000
# Before the names of a person's limits in a check on behalf of them: the answer, its headers and
# a refusal then tell them from the agent's limits of the same rules.
DELEGATOR_PREFIX = "delegator:"


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
        if self.kind not in KINDS:
            raise ValueError(f"{self.policy_name}: kind must be 'requests' or 'cost', not {self.kind!r}")
        if self.limit < 1 or self.period_s < 1 or self.burst < 1 or self.weight < 0:
            raise ValueError(f"{self.policy_name}: limit, period and burst must be positive, weight >= 0")
        if self.limit > max_units(self.period_s):
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
    rate_limits: Sequence[Mapping[str, Any]], *, agent: str, scope: str, cost: int, name_prefix: str = ""
) -> list[LimitSpec]:
    """Specs for the policy entries `{requests|cost: N, per: PERIOD, burst: B}` of one scope.

    Request limits weigh 1, cost budgets weigh `cost`. Names are `<rule id or "defaults">/<kind>`,
    with `/<period>` appended when the scope has several limits of one kind, after `name_prefix`
    (DELEGATOR_PREFIX for the person a check is made for). Raises ValueError
    naming the offending entry.
    """
    limits, problems = parse_rate_limits(rate_limits)
    if problems:
        problem = problems[0]
        entry = rate_limits[problem.position]
        shown = dict(entry) if isinstance(entry, Mapping) else entry
        raise ValueError(f"{_scope_label(scope)}: rate limit {shown!r}: {problem.describe()}")
    kinds = Counter(limit.kind for limit in limits)
    label = _scope_label(scope)
    return [
        LimitSpec.for_agent(
            agent,
            kind=cast(Kind, limit.kind),
            limit=limit.limit,
            period_s=limit.period_seconds,
            burst=limit.burst,
            scope=scope,
            weight=cost if limit.kind == "cost" else 1,
            policy_name=name_prefix + (
                f"{label}/{limit.kind}/{limit.per}" if kinds[limit.kind] > 1 else f"{label}/{limit.kind}"
            ),
        )
        for limit in limits
    ]


def denied_checks_spec(agent: str, per_minute: int = 300, name_prefix: str = "") -> LimitSpec:
    """The separate per-agent ceiling on denied checks, so a misbehaving agent cannot flood us."""
    return LimitSpec.for_agent(
        agent, kind="requests", limit=per_minute, period_s=60, scope="denied",
        policy_name=f"{name_prefix}denied-checks",
    )
