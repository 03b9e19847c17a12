"""Behaviour both limiters share (LocalLimiter, and RedisLimiter on a real redis-server and Redis Cluster)."""

from __future__ import annotations

import threading
import time

import pytest

from policies.ratelimit import LimitSpec
from tests.policies.ratelimit.conftest import LimiterUnderTest
from tests.policies.ratelimit.factories import AGENT, cost_spec, peek, requests_spec


def test_full_burst_is_admitted_then_the_next_request_is_refused(under_test: LimiterUnderTest) -> None:
    limiter, spec = under_test.limiter, requests_spec(5, 60)

    remaining = [limiter.acquire(AGENT, [spec]).statuses[0].remaining for _ in range(5)]
    refused = limiter.acquire(AGENT, [spec])

    assert remaining == [4, 3, 2, 1, 0]
    assert not refused.allowed and refused.refused == spec and not refused.never_admissible
    assert 0 < refused.retry_after_s <= 12  # one unit refills every 60 s / 5


def test_status_follows_the_ratelimit_headers_draft(under_test: LimiterUnderTest) -> None:
    outcome = under_test.limiter.acquire(AGENT, [requests_spec(600, 60)])

    assert outcome.allowed
    assert outcome.tightest == outcome.statuses[0]
    assert (outcome.tightest.limit, outcome.tightest.remaining, outcome.tightest.period_s) == (600, 599, 60)
    assert outcome.tightest.policy_name == "defaults/requests"
    assert outcome.tightest.reset_after_s == 0.1  # the next unit refills 60 s / 600 after the charge


def test_burst_smaller_than_the_limit_caps_the_remaining_units(under_test: LimiterUnderTest) -> None:
    outcome = under_test.limiter.acquire(AGENT, [requests_spec(60, 60, burst=10)])

    assert outcome.statuses[0].remaining == 9


def test_cost_budget_charges_the_document_cost(under_test: LimiterUnderTest) -> None:
    limiter = under_test.limiter

    first = limiter.acquire(AGENT, [cost_spec(1000, 60, weight=300)])
    too_costly = limiter.acquire(AGENT, [cost_spec(1000, 60, weight=701)])
    exactly_the_rest = limiter.acquire(AGENT, [cost_spec(1000, 60, weight=700)])

    assert first.allowed and first.statuses[0].remaining == 700
    assert not too_costly.allowed and too_costly.refused is not None and too_costly.refused.kind == "cost"
    assert exactly_the_rest.allowed and exactly_the_rest.statuses[0].remaining == 0


def test_weight_above_the_capacity_is_never_admissible_and_charges_nothing(
    under_test: LimiterUnderTest,
) -> None:
    limiter = under_test.limiter
    requests, budget = requests_spec(10, 60), cost_spec(1000, 60, weight=1001)

    outcome = limiter.acquire(AGENT, [requests, budget])

    assert not outcome.allowed and outcome.never_admissible and outcome.refused == budget
    assert [status.remaining for status in peek(limiter, requests, budget)] == [10, 1000]


def test_refused_rule_limit_charges_neither_the_agent_wide_limit_nor_the_cost_budget(
    under_test: LimiterUnderTest,
) -> None:
    limiter = under_test.limiter
    agent_wide, budget = requests_spec(100, 60), cost_spec(1000, 60, weight=5)
    rule = requests_spec(2, 60, scope="rule:support-reads-orders")
    specs = [agent_wide, budget, rule]

    admitted = [limiter.acquire(AGENT, specs).allowed for _ in range(2)]
    refused = limiter.acquire(AGENT, specs)

    assert admitted == [True, True]
    assert not refused.allowed and refused.refused == rule
    assert refused.tightest is not None and refused.tightest.policy_name == "support-reads-orders/requests"
    assert [status.remaining for status in peek(limiter, *specs)] == [98, 990, 0]


def test_when_several_limits_refuse_the_longest_wait_is_reported(under_test: LimiterUnderTest) -> None:
    limiter = under_test.limiter
    per_minute, per_hour = requests_spec(1, 60), requests_spec(1, 3600)

    assert limiter.acquire(AGENT, [per_minute, per_hour]).allowed
    refused = limiter.acquire(AGENT, [per_minute, per_hour])

    assert refused.refused == per_hour
    assert 60 < refused.retry_after_s <= 3600


@pytest.mark.parametrize(
    ("first", "retry"),
    [
        (requests_spec(1, 1), requests_spec(1, 1)),
        (cost_spec(10, 1, weight=6), cost_spec(10, 1, weight=6)),
    ],
    ids=["requests", "cost"],
)
def test_retry_after_is_honest(under_test: LimiterUnderTest, first: LimitSpec, retry: LimitSpec) -> None:
    limiter = under_test.limiter
    assert limiter.acquire(AGENT, [first]).allowed
    refused = limiter.acquire(AGENT, [retry])
    assert not refused.allowed

    time.sleep(refused.retry_after_s)

    assert limiter.acquire(AGENT, [retry]).allowed


def test_refill_is_smooth_without_window_boundary_bursts(under_test: LimiterUnderTest) -> None:
    limiter, spec = under_test.limiter, requests_spec(10, 1)
    started = under_test.now_us()
    assert all(limiter.acquire(AGENT, [spec]).allowed for _ in range(10))

    time.sleep(0.35)
    admitted_after_wait = sum(limiter.acquire(AGENT, [spec]).allowed for _ in range(20))
    elapsed_us = under_test.now_us() - started

    # A fixed one-second window would admit nothing here, or 10 right after a boundary.
    assert 3 <= admitted_after_wait <= elapsed_us // spec.interval_us


def test_no_limits_means_allowed_without_status(under_test: LimiterUnderTest) -> None:
    outcome = under_test.limiter.acquire(AGENT, [])

    assert outcome.allowed and outcome.statuses == () and outcome.tightest is None


def test_specs_of_another_agent_are_rejected(under_test: LimiterUnderTest) -> None:
    with pytest.raises(ValueError, match="do not belong to agent"):
        under_test.limiter.acquire("other-bot", [requests_spec(10, 60)])


def test_fifty_threads_admit_at_most_the_burst_plus_the_refill(under_test: LimiterUnderTest) -> None:
    limiter, spec = under_test.limiter, requests_spec(100, 60)
    barrier, lock = threading.Barrier(50), threading.Lock()
    attempts, admitted = [0], [0]

    def hammer() -> None:
        barrier.wait()
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            allowed = limiter.acquire(AGENT, [spec]).allowed
            with lock:
                attempts[0] += 1
                admitted[0] += allowed

    started = under_test.now_us()
    threads = [threading.Thread(target=hammer) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed_us = under_test.now_us() - started

    assert attempts[0] > admitted[0], "the limit was never reached: no contention measured"
    assert spec.burst <= admitted[0] <= spec.burst + elapsed_us // spec.interval_us


# --- a check on behalf of a person: the agent's and the person's limits in one acquire ---

PERSON = "alice"


def _person_spec(limit: int) -> LimitSpec:
    return LimitSpec.for_agent(PERSON, kind="requests", limit=limit, period_s=60, policy_name="delegator:p/requests")


def test_the_agents_and_the_persons_limits_are_charged_together(under_test: LimiterUnderTest) -> None:
    limiter, agent_spec, person_spec = under_test.limiter, requests_spec(5, 60), _person_spec(3)

    outcome = limiter.acquire(AGENT, [agent_spec, person_spec], delegator=PERSON)

    assert outcome.allowed
    assert [status.remaining for status in outcome.statuses] == [4, 2]
    assert outcome.tightest is not None and outcome.tightest.policy_name == "delegator:p/requests"


def test_a_refusal_by_the_persons_limit_charges_the_agent_nothing(under_test: LimiterUnderTest) -> None:
    limiter, agent_spec, person_spec = under_test.limiter, requests_spec(5, 60), _person_spec(1)
    assert limiter.acquire(AGENT, [agent_spec, person_spec], delegator=PERSON).allowed

    refused = limiter.acquire(AGENT, [agent_spec, person_spec], delegator=PERSON)

    assert not refused.allowed and refused.refused == person_spec
    assert [status.remaining for status in peek(limiter, agent_spec)] == [4]


def test_keys_of_a_principal_named_neither_agent_nor_delegator_are_refused(under_test: LimiterUnderTest) -> None:
    with pytest.raises(ValueError, match="do not belong"):
        under_test.limiter.acquire(AGENT, [requests_spec(5, 60), _person_spec(3)])
