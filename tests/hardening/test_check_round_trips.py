"""A warm check talks to Redis once: the identity's generation, the charge and the record in one script."""

import json

import pytest

from agents.identity_cache import identity_cache
from agents.services import principal_suspend, principal_update
from gqlgov.redis import get_redis
from policies.checks import drainer
from tests.conftest import bearer
from tests.policies.ratelimit.factories import CountingConnection

pytestmark = pytest.mark.django_db(transaction=True)

ORDERS = "{ orders(first: 5) { edges { node { id } } } }"


def check(client, token, query=ORDERS):
    body = {"schema": "shop", "query": query}
    return client.post("/api/v1/check", json.dumps(body), content_type="application/json", **bearer(token))


@pytest.fixture(autouse=True)
def _cache(redis_settings):
    identity_cache.clear()
    yield
    identity_cache.clear()


@pytest.fixture
def counted(monkeypatch, redis_settings):
    from policies.checks.limiter import get_limiter

    pools = [get_redis().connection_pool, get_limiter()._script.connection_pool]
    for pool in pools:
        monkeypatch.setattr(pool, "connection_class", CountingConnection)
        pool.disconnect()
    CountingConnection.sent.clear()
    return CountingConnection.sent


def test_a_warm_check_is_one_redis_round_trip(client, shop, agent_token, counted):
    assert check(client, agent_token).status_code == 200  # fills the caches, connects
    counted.clear()

    response = check(client, agent_token)

    assert response.status_code == 200 and response.json()["decision"] == "allow"
    assert counted == ["EVALSHA"]
    assert drainer.stream_backlog() == 2  # both records are on the stream


def test_suspension_reaches_the_next_check_and_the_stale_attempt_records_nothing(client, shop, agent, agent_token):
    assert check(client, agent_token).status_code == 200

    principal_suspend(actor="test", principal=agent)
    response = check(client, agent_token)

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "AGENT_SUSPENDED"
    assert drainer.stream_backlog() == 1  # only the first check's record


def test_group_changes_reach_the_next_check(client, shop, agent, agent_token):
    assert check(client, agent_token).json()["decision"] == "allow"
    principal_update(actor="test", principal=agent, groups=["nobody"])
    response = check(client, agent_token)
    assert response.json()["decision"] == "deny"
    assert drainer.stream_backlog() == 2


def test_resuming_reaches_the_next_check_as_suspending_does(client, shop, agent, agent_token):
    from django.core.management import call_command

    assert check(client, agent_token).status_code == 200
    principal_suspend(actor="test", principal=agent)
    assert check(client, agent_token).status_code == 403  # the suspended row is what is cached now

    call_command("resume_agent", agent.name)
    response = check(client, agent_token)

    assert response.status_code == 200, response.content
    assert response.json()["decision"] == "allow"
