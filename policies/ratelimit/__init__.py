"""Rate limits and cost budgets for agents (issue 4).

The Django layer calls `Limiter.acquire(agent, specs)` once per otherwise-allowed check (with
`delegator=` and the person's specs too, on behalf of a person) with the
specs of `defaults.rate_limits` (scope "default") and of each admitting rule (scope "rule:<id>"),
built by `specs_from_policy`; denied checks go through `denied_checks_spec`. `RedisLimiter` is
shared by all processes; `LocalLimiter` is the single-process embedded default.
"""

from policies.ratelimit.headers import ratelimit_headers, retry_after_value
from policies.ratelimit.local import LocalLimiter
from policies.ratelimit.outcome import (
    GuardFailed,
    Limiter,
    LimiterUnavailable,
    LimitOutcome,
    LimitStatus,
    Piggyback,
)
from policies.ratelimit.redis_limiter import RedisLimiter, limiter_client_options, redis_client_for_limiter
from policies.ratelimit.specs import DELEGATOR_PREFIX, PERIODS, LimitSpec, denied_checks_spec, specs_from_policy

__all__ = [
    "DELEGATOR_PREFIX",
    "PERIODS",
    "GuardFailed",
    "LimitOutcome",
    "LimitSpec",
    "LimitStatus",
    "Limiter",
    "LimiterUnavailable",
    "LocalLimiter",
    "Piggyback",
    "RedisLimiter",
    "denied_checks_spec",
    "limiter_client_options",
    "ratelimit_headers",
    "redis_client_for_limiter",
    "retry_after_value",
    "specs_from_policy",
]
