"""Policy syntax `{requests|cost: N, per: PERIOD, burst: B}` turned into limit specs."""

from __future__ import annotations

import pytest

from policies.ratelimit import LimitSpec, denied_checks_spec, specs_from_policy


def test_policy_entries_become_specs_weighted_by_kind() -> None:
    specs = specs_from_policy(
        [{"requests": 60, "per": "minute", "burst": 10}, {"cost": 1000, "per": "minute"}],
        agent="support-bot",
        scope="rule:support-reads-orders",
        cost=16,
    )

    assert specs == [
        LimitSpec(
            key="{support-bot}:rule:support-reads-orders:requests:60",
            kind="requests", limit=60, period_s=60, burst=10, weight=1,
            policy_name="support-reads-orders/requests",
        ),
        LimitSpec(
            key="{support-bot}:rule:support-reads-orders:cost:60",
            kind="cost", limit=1000, period_s=60, burst=1000, weight=16,
            policy_name="support-reads-orders/cost",
        ),
    ]  # fmt: skip


def test_defaults_are_named_after_defaults_and_several_limits_of_a_kind_by_period() -> None:
    specs = specs_from_policy(
        [
            {"requests": 10, "per": "second"},
            {"requests": 600, "per": "minute"},
            {"cost": 5000, "per": "hour"},
        ],
        agent="support-bot",
        scope="default",
        cost=3,
    )

    assert [spec.policy_name for spec in specs] == [
        "defaults/requests/second",
        "defaults/requests/minute",
        "defaults/cost",
    ]
    assert [spec.period_s for spec in specs] == [1, 60, 3600]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"requests": 60}, "'per' must be one of second, minute, hour, day"),
        ({"requests": 60, "per": "week"}, "'per' must be one of"),
        ({"requests": 60, "cost": 5, "per": "minute"}, "exactly one of 'requests' or 'cost'"),
        ({"per": "minute"}, "exactly one of 'requests' or 'cost'"),
        ({"requests": 0, "per": "minute"}, "'requests' must be a positive integer"),
        ({"cost": "many", "per": "minute"}, "'cost' must be a positive integer"),
        ({"requests": 60, "per": "minute", "burst": True}, "'burst' must be a positive integer"),
        ({"requests": 60, "per": "minute", "window": 5}, "unknown keys ['window']"),
    ],
)
def test_invalid_entries_are_refused_naming_the_scope_and_entry(
    entry: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=r"^no-ai-deletes: rate limit") as raised:
        specs_from_policy([entry], agent="a", scope="rule:no-ai-deletes", cost=1)

    assert message in str(raised.value)


def test_two_limits_of_one_kind_and_period_are_refused() -> None:
    with pytest.raises(ValueError, match="same kind and period"):
        specs_from_policy(
            [{"requests": 60, "per": "minute"}, {"requests": 100, "per": "minute"}],
            agent="a",
            scope="default",
            cost=1,
        )


def test_rates_the_limiter_cannot_keep_are_refused_naming_the_entry() -> None:
    with pytest.raises(ValueError, match=r"^defaults: rate limit .*'requests' must be at most 1,000,000 per second"):
        specs_from_policy([{"requests": 100_000_000, "per": "second"}], agent="a", scope="default", cost=1)


def test_denied_checks_have_their_own_ceiling_per_agent() -> None:
    spec = denied_checks_spec("support-bot")

    assert (spec.key, spec.limit, spec.period_s, spec.weight) == (
        "{support-bot}:denied:requests:60",
        300,
        60,
        1,
    )
    assert spec.policy_name == "denied-checks"


def test_emission_interval_rounds_up_so_the_rate_is_never_exceeded() -> None:
    spec = LimitSpec.for_agent("a", kind="requests", limit=3, period_s=1)

    assert spec.interval_us == 333_334


def test_rates_finer_than_a_microsecond_per_unit_are_refused() -> None:
    with pytest.raises(ValueError, match="1,000,000 units per second"):
        LimitSpec.for_agent("a", kind="cost", limit=2_000_000, period_s=1)
