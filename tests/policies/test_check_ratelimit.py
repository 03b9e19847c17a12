"""Rate limits and cost budgets on POST /api/v1/check (Redis when REDIS_URL is set, else in-process)."""

import json
import re
from datetime import datetime

import pytest

from policies.checks.limiter import get_limiter
from policies.models import Decision
from tests.conftest import bearer
from tests.policies.conftest import activate_policy

pytestmark = pytest.mark.django_db

ORDERS = "{ orders(first: 5) { edges { node { id customer { name } } } } }"  # cost 16
CHEAP = "{ orders(first: 1) { totalCount } }"  # cost 1

POLICY = """
schema: shop
defaults:
  rate_limits: [{{requests: 100, per: minute}}]
rules:
  - id: reads
    effect: allow
    subjects: {{groups: [support]}}
    operations: ["query.*"]
    rate_limits: [{rule_limits}]
  - {{id: no-deletes, effect: deny, subjects: {{kinds: [ai]}}, operations: ["mutation.deleteOrder"]}}
"""


def with_limits(shop_schema, rule_limits: str):
    return activate_policy(POLICY.format(rule_limits=rule_limits))


def check(client, token, query=ORDERS):
    return client.post("/api/v1/check", data=json.dumps({"query": query}), content_type="application/json",
                       **bearer(token))


def test_allowed_check_reports_the_tightest_limit_and_headers(client, shop_schema, agent_token):
    with_limits(shop_schema, "{requests: 5, per: minute}")
    response = check(client, agent_token)
    body = response.json()
    assert body["decision"] == "allow"
    assert body["rate_limit"]["policy"] == "reads/requests"
    assert body["rate_limit"]["limit"] == 5
    assert body["rate_limit"]["remaining"] == 4
    assert '"reads/requests";q=5;w=60' in response["RateLimit-Policy"]
    assert '"reads/requests";r=4' in response["RateLimit"]


def test_request_limit_refuses_with_429_retry_after_and_both_shapes(client, shop_schema, agent_token):
    with_limits(shop_schema, "{requests: 2, per: minute}")
    assert check(client, agent_token).status_code == 200
    assert check(client, agent_token).status_code == 200
    response = check(client, agent_token)
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    body = response.json()
    assert body["decision"] == "deny"
    assert body["reasons"][-1]["code"] == "RATE_LIMITED"
    assert body["reasons"][-1]["rule"] == "reads/requests"
    assert body["error"]["code"] == "RATE_LIMITED"
    assert body["error"]["details"]["limit"] == 2
    assert body["error"]["details"]["retry_after_s"] > 0
    assert Decision.objects.filter(decision="deny").count() == 1


def test_a_refusal_says_when_to_retry_and_how_much_of_the_limit_is_left(client, shop_schema, agent_token):
    with_limits(shop_schema, "{requests: 2, per: minute}")
    check(client, agent_token), check(client, agent_token)
    response = check(client, agent_token)
    body = response.json()
    [retry] = [hint for hint in body["hints"] if hint["kind"] == "retry"]
    seconds = int(response["Retry-After"])
    assert re.fullmatch(rf"Retry in {seconds} seconds? \(at {re.escape(retry['retry_at'])}\): 0 of 2 requests are"
                        r" left until then\.", body["reasons"][-1]["hint"])
    assert datetime.fromisoformat(retry["retry_at"]).tzinfo is not None
    assert (retry["code"], retry["remaining"], retry["burst"], retry["limit"]) == ("RATE_LIMITED", 0, 2, 2)
    details = body["error"]["details"]
    assert (details["retry_at"], details["remaining"], details["burst"]) == (retry["retry_at"], 0, 2)


def test_a_cost_budget_refusal_names_the_units_left_and_the_documents_cost(client, shop_schema, agent_token):
    with_limits(shop_schema, "{cost: 40, per: hour}")
    check(client, agent_token), check(client, agent_token)  # 32 of 40 used
    body = check(client, agent_token).json()
    assert body["reasons"][-1]["code"] == "COST_BUDGET_EXCEEDED"
    assert body["reasons"][-1]["hint"].endswith(
        "when the budget has room for this document, or send a cheaper one: 8 of 40 cost units are left now and"
        " this document costs 16."
    )


def test_the_rate_limit_answer_names_the_burst_its_remaining_counts_from(client, shop_schema, agent_token):
    with_limits(shop_schema, "{requests: 60, per: minute, burst: 10}")
    body = check(client, agent_token).json()
    assert {key: body["rate_limit"][key] for key in ("limit", "burst", "remaining")} == {
        "limit": 60, "burst": 10, "remaining": 9,
    }


def test_cost_budget_charges_the_document_cost(client, shop_schema, agent_token):
    with_limits(shop_schema, "{cost: 40, per: hour}")
    assert check(client, agent_token).status_code == 200  # 16
    assert check(client, agent_token).status_code == 200  # 32
    response = check(client, agent_token)  # 48 > 40
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "COST_BUDGET_EXCEEDED"
    assert check(client, agent_token, CHEAP).status_code == 200  # 33: still fits


def test_document_costlier_than_a_whole_budget_is_denied_with_200_and_not_charged(client, shop_schema, agent_token):
    with_limits(shop_schema, "{cost: 10, per: minute}")
    response = check(client, agent_token)
    assert response.status_code == 200
    body = response.json()
    assert body["decision"] == "deny"
    assert [r["code"] for r in body["reasons"]] == ["COST_LIMIT"]
    assert body["reasons"][0]["limit"] == 10
    assert body["reasons"][0]["message"] == (
        "The document costs 16; the cost budget reads/cost holds at most 10 at once (its burst), so it can never pass."
    )
    assert body["reasons"][0]["hint"].endswith("to bring the cost from 16 to at most 10; no wait makes it pass.")
    cheap = check(client, agent_token, CHEAP).json()
    assert cheap["decision"] == "allow"
    assert cheap["rate_limit"]["remaining"] == 9


def test_denied_checks_do_not_consume_the_budget(client, shop_schema, agent_token):
    with_limits(shop_schema, "{requests: 2, per: minute}")
    for _ in range(3):
        assert check(client, agent_token, 'mutation { deleteOrder(id: "1") }').json()["decision"] == "deny"
    assert check(client, agent_token).json()["rate_limit"]["remaining"] == 1


def test_denied_checks_have_their_own_ceiling(client, shop_schema, agent_token, settings):
    settings.GQLGOV_DENIED_CHECKS_PER_MINUTE = 2
    with_limits(shop_schema, "{requests: 50, per: minute}")
    deny = 'mutation { deleteOrder(id: "1") }'
    assert check(client, agent_token, deny).status_code == 200
    assert check(client, agent_token, deny).status_code == 200
    response = check(client, agent_token, deny)
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "RATE_LIMITED"


def test_unreachable_redis_fails_closed_with_503(client, shop_schema, agent_token, settings):
    with_limits(shop_schema, "{requests: 5, per: minute}")
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    get_limiter.cache_clear()
    response = check(client, agent_token)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "RATE_LIMITER_UNAVAILABLE"
    assert int(response["Retry-After"]) >= 1


def test_unreachable_redis_can_fail_open(client, shop_schema, agent_token, settings):
    with_limits(shop_schema, "{requests: 5, per: minute}")
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    settings.GQLGOV_RATE_LIMIT_FAIL_OPEN = True
    get_limiter.cache_clear()
    response = check(client, agent_token)
    assert response.status_code == 200
    assert response.json()["decision"] == "allow"
