"""HTTP headers for a limiter outcome.

Format: draft-ietf-httpapi-ratelimit-headers-11 (May 2026), both fields Structured Field Lists:
    RateLimit-Policy: "defaults/requests";q=600;w=60, "defaults/cost";q=5000;w=3600;gqlgov-unit="cost"
    RateLimit: "defaults/requests";r=599;t=1, "defaults/cost";r=4988;t=1
`t` is the draft's "effective window": seconds within which no more than `r` units can be used,
which for GCRA is the time until the next unit refills. The draft registers no quota unit for
query cost, so cost budgets carry the vendor parameter `gqlgov-unit="cost"` instead of `qu`, and
a burst smaller than the quota is shown as `gqlgov-burst`, as the draft suggests for extensions.
"""

from __future__ import annotations

import functools
import math

from policies.ratelimit.outcome import LimitOutcome, LimitStatus


def ratelimit_headers(outcome: LimitOutcome) -> dict[str, str]:
    """`RateLimit-Policy` and `RateLimit` for every measured limit, plus `Retry-After` on a refusal."""
    headers: dict[str, str] = {}
    if outcome.statuses:
        headers["RateLimit-Policy"] = ", ".join(_policy_item(status) for status in outcome.statuses)
        headers["RateLimit"] = ", ".join(
            f"{_sf_string(status.policy_name)};r={status.remaining};t={math.ceil(status.reset_after_s)}"
            for status in outcome.statuses
        )
    if not outcome.allowed and not outcome.never_admissible:
        headers["Retry-After"] = retry_after_value(outcome.retry_after_s)
    return headers


def retry_after_value(seconds: float) -> str:
    """`Retry-After` delay-seconds: rounded up, so a client that waits that long is admitted."""
    return str(max(1, math.ceil(seconds)))


def _policy_item(status: LimitStatus) -> str:
    item = f"{_sf_string(status.policy_name)};q={status.limit};w={status.period_s}"
    if status.burst != status.limit:
        item += f";gqlgov-burst={status.burst}"
    if status.kind == "cost":
        item += ';gqlgov-unit="cost"'
    return item


@functools.lru_cache(maxsize=4096)  # policy names: a handful per policy, quoted on every check
def _sf_string(value: str) -> str:
    # RFC 8941 sf-string: printable ASCII only, with `"` and `\` escaped.
    printable = "".join(char for char in value if " " <= char <= "~")
    return '"' + printable.replace("\\", "\\\\").replace('"', '\\"') + '"'
