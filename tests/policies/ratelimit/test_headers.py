"""RateLimit-Policy / RateLimit (draft-ietf-httpapi-ratelimit-headers-11) and Retry-After."""

from __future__ import annotations

from policies.ratelimit import LimitOutcome, LimitStatus, ratelimit_headers, retry_after_value
from tests.policies.ratelimit.factories import cost_spec, requests_spec


def _status(name: str, limit: int, remaining: int, reset_after_s: float, **fields: object) -> LimitStatus:
    values: dict[str, object] = {"period_s": 60, "burst": limit, "kind": "requests", **fields}
    return LimitStatus(
        limit=limit,
        remaining=remaining,
        reset_after_s=reset_after_s,
        policy_name=name,
        **values,  # type: ignore[arg-type]
    )


def test_allowed_check_advertises_every_limit_with_reset_rounded_up() -> None:
    requests = _status("defaults/requests", 600, 599, 0.1)
    budget = _status("defaults/cost", 5000, 4988, 0.3, period_s=3600, kind="cost")
    rule = _status("support-reads-orders/requests", 60, 9, 0.0, burst=10)

    headers = ratelimit_headers(LimitOutcome(allowed=True, statuses=(requests, budget, rule), tightest=rule))

    assert headers == {
        "RateLimit-Policy": '"defaults/requests";q=600;w=60, '
        '"defaults/cost";q=5000;w=3600;gqlgov-unit="cost", '
        '"support-reads-orders/requests";q=60;w=60;gqlgov-burst=10',
        "RateLimit": '"defaults/requests";r=599;t=1, "defaults/cost";r=4988;t=1, '
        '"support-reads-orders/requests";r=9;t=0',
    }


def test_refusal_adds_retry_after_in_whole_seconds_rounded_up() -> None:
    refused = _status("support-reads-orders/requests", 60, 0, 0.4, burst=10)
    outcome = LimitOutcome(
        allowed=False, statuses=(refused,), tightest=refused, refused=requests_spec(60, 60), retry_after_s=2.1
    )

    headers = ratelimit_headers(outcome)

    assert headers["Retry-After"] == "3"
    assert headers["RateLimit"] == '"support-reads-orders/requests";r=0;t=1'


def test_never_admissible_and_degraded_outcomes_carry_no_rate_limit_headers() -> None:
    never = LimitOutcome(allowed=False, refused=cost_spec(1000, 60, weight=1001), never_admissible=True)

    assert ratelimit_headers(never) == {}
    assert ratelimit_headers(LimitOutcome(allowed=True, degraded=True)) == {}


def test_retry_after_is_at_least_one_second() -> None:
    assert [retry_after_value(seconds) for seconds in (0, 0.001, 1.0, 1.5)] == ["1", "1", "1", "2"]


def test_policy_names_are_escaped_as_structured_field_strings() -> None:
    status = _status('odd"rule\\name\n', 10, 5, 1)

    headers = ratelimit_headers(LimitOutcome(allowed=True, statuses=(status,), tightest=status))

    assert headers["RateLimit"] == '"odd\\"rule\\\\name";r=5;t=1'
