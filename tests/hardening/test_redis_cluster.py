"""gqlgov on a real Redis Cluster (three masters, one replica each, on loopback), through a failover.

Rate limits stay exact, a check answers only what the README documents while a master fails over
(200, 429, or 503 RATE_LIMITER_UNAVAILABLE), and every decision record a check acknowledged (an
answer with a `decision_id`) reaches the database once the drainer has run.
"""

import itertools
import json
import time
from collections import Counter

import pytest
from redis.cluster import key_slot

from agents.identity_cache import identity_cache
from agents.services import principal_suspend
from policies.checks import drainer, records
from policies.models import Decision
from tests.conftest import bearer, issue_token_for, make_principal
from tests.policies.conftest import activate_policy
from tests.support.redis_cluster import RedisCluster, redis_cluster  # noqa: F401
from tests.test_deployment import import_settings

ORDERS = "{ orders(first: 5) { edges { node { id } } } }"
LIMIT = 5
POLICY = f"""
schema: shop
rules:
  - id: limited
    effect: allow
    subjects: {{groups: [limited]}}
    operations: ["query.*"]
    rate_limits: [{{requests: {LIMIT}, per: hour}}]
  - id: reads
    effect: allow
    subjects: {{groups: [support]}}
    operations: ["query.*"]
    rate_limits: [{{requests: 100000, per: hour}}]
"""


STREAM_KEY = "gqlgov:decisions"


@pytest.fixture
def on_cluster(settings, redis_cluster):  # noqa: F811
    """Puts the check's Redis work on the cluster (limiter, identity cache, decision stream with
    WAIT 1); call it with the node REDIS_URL names, the others being REDIS_CLUSTER_NODES."""
    from gqlgov.redis import get_redis
    from policies.checks.limiter import get_limiter

    def reset() -> None:
        get_redis.cache_clear()
        get_limiter.cache_clear()
        identity_cache.clear()
        records._stream._skip_until = 0.0

    def use(port: int) -> None:
        settings.REDIS_URL = redis_cluster.nodes[port].url
        settings.REDIS_CLUSTER = True
        settings.REDIS_CLUSTER_NODES = [f"127.0.0.1:{other}" for other in redis_cluster.nodes if other != port]
        settings.GQLGOV_REDIS_WAIT_REPLICAS = 1
        settings.GQLGOV_REDIS_WAIT_MS = 100
        settings.GQLGOV_DECISION_STREAM = True
        settings.GQLGOV_DECISION_STREAM_KEY = STREAM_KEY
        settings.GQLGOV_AUTH_CACHE = True
        reset()

    yield use
    reset()


def check(client, token):
    body = {"schema": "shop", "query": ORDERS}
    return client.post("/api/v1/check", json.dumps(body), content_type="application/json", **bearer(token))


def agent_on(cluster: RedisCluster, port: int, group: str, *, elsewhere: bool = False):
    """A new agent whose limiter keys (its hash tag) live on master `port` (or elsewhere), and its token."""
    master = next(node for node in cluster.topology() if node.port == port)
    for number in itertools.count():
        name = f"{group}-{number}"
        if master.serves(key_slot(f"{{{name}}}".encode())) != elsewhere:
            principal = make_principal(name, "ai", groups=[group])
            return principal, issue_token_for(principal)
    raise AssertionError("unreachable")


class Answers:
    """Every answer, and the decision ids of those that acknowledged a record."""

    def __init__(self) -> None:
        self.acknowledged: list[str] = []
        self.statuses: Counter[tuple[str, int]] = Counter()

    def check(self, client, token: str, label: str):
        response = check(client, token)
        body = response.json()
        self.statuses[label, response.status_code] += 1
        if response.status_code == 503:
            assert body["error"]["code"] == "RATE_LIMITER_UNAVAILABLE", body
            assert int(response["Retry-After"]) >= 0
        else:
            assert response.status_code in (200, 429), body
            self.acknowledged.append(body["decision_id"])
        return response


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_limits_stay_exact_and_no_acknowledged_record_is_lost_when_a_master_fails_over(
    client, shop_schema, on_cluster, redis_cluster  # noqa: F811
):
    activate_policy(POLICY)
    started = time.monotonic()
    # The master holding the decision stream (and some agents' limiter keys) will die; it is also
    # the node REDIS_URL names, so clients made after its death find the cluster through the others.
    victim = redis_cluster.master_of_key(STREAM_KEY)
    on_cluster(victim.port)
    agents = {
        "limited on the victim": agent_on(redis_cluster, victim.port, "limited"),
        "limited elsewhere": agent_on(redis_cluster, victim.port, "limited", elsewhere=True),
        "busy on the victim": agent_on(redis_cluster, victim.port, "support"),
        "busy elsewhere": agent_on(redis_cluster, victim.port, "support", elsewhere=True),
    }
    tokens = {label: token for label, (_principal, token) in agents.items()}
    answers = Answers()

    # Healthy cluster: exactly LIMIT checks pass per agent, the rest get 429.
    for label in ("limited on the victim", "limited elsewhere"):
        statuses = [answers.check(client, tokens[label], label).status_code for _ in range(LIMIT + 2)]
        assert statuses == [200] * LIMIT + [429] * 2, label
    for _ in range(3):
        for label in ("busy on the victim", "busy elsewhere"):
            assert answers.check(client, tokens[label], label).json()["decision"] == "allow"
    assert drainer.drain() == len(answers.acknowledged)  # the consumer group exists, the stream is empty
    for _ in range(3):  # records left on the stream when its master dies
        for label in ("busy on the victim", "busy elsewhere"):
            answers.check(client, tokens[label], label)
    assert drainer.stream_backlog() == 6
    redis_cluster.wait_replicated()  # the limiter's state is on the replicas (see README: what a failover loses)

    redis_cluster.kill(victim.port)
    killed_at = time.monotonic()
    failed_over_at = recovered_at = None
    while recovered_at is None:
        assert time.monotonic() - killed_at < 20, f"no recovery 20 s after the kill: {answers.statuses}"
        busy = [answers.check(client, tokens[label], label).status_code
                for label in ("busy on the victim", "busy elsewhere")]
        if failed_over_at is None and redis_cluster.failed_over(victim.port):
            failed_over_at = time.monotonic()
        if failed_over_at is not None and busy == [200, 200]:
            recovered_at = time.monotonic()
        time.sleep(0.05)
    # Within about a second of the replica's promotion (the limiter's probe interval), all is well.
    assert recovered_at - failed_over_at < 3, answers.statuses

    # The exhausted limits survived the failover: no agent got a fresh budget.
    for label in ("limited on the victim", "limited elsewhere"):
        assert answers.check(client, tokens[label], label).status_code == 429, label
    for label in ("busy on the victim", "busy elsewhere"):
        assert answers.check(client, tokens[label], label).status_code == 200, label
    # The new master has no replica yet: a record WAIT cannot confirm is in the database at once.
    assert Decision.objects.filter(pk=answers.acknowledged[-1]).exists()

    # Once the old master is back (as the new one's replica), records go through the stream again.
    redis_cluster.restart(victim.port)
    redis_cluster.wait_until_healthy()
    backlog = drainer.stream_backlog()
    time.sleep(records._STREAM_RETRY_S)  # the stream's breaker, opened by the unconfirmed appends
    answers.check(client, tokens["busy on the victim"], "busy on the victim")
    assert drainer.stream_backlog() == backlog + 1

    # A suspension still reaches the very next check (the generation bump went to the new topology).
    principal_suspend(actor="test", principal=agents["busy elsewhere"][0])
    response = check(client, tokens["busy elsewhere"])
    assert response.status_code == 403 and response.json()["error"]["code"] == "AGENT_SUSPENDED"

    drainer.drain()
    stored = set(map(str, Decision.objects.values_list("id", flat=True)))
    assert set(answers.acknowledged) <= stored, set(answers.acknowledged) - stored
    assert len(stored) == len(answers.acknowledged) == len(set(answers.acknowledged))
    assert drainer.stream_backlog() == 0
    assert records.stream_client().xlen(f"{STREAM_KEY}:dead") == 0
    assert time.monotonic() - started < 60


PRODUCTION_ON_A_CLUSTER = {
    "GQLGOV_ENV": "production",
    "DATABASE_URL": "postgres://u:p@db:5432/gqlgov",
    "REDIS_URL": "redis://redis-node-1:6379/0",
    "REDIS_CLUSTER": "true",
    "SECRET_KEY": "x" * 50,
    "ALLOWED_HOSTS": "gqlgov.example.com",
}


def test_production_on_a_redis_cluster_refuses_to_start_without_a_plain_redis_for_celery():
    refused = import_settings(PRODUCTION_ON_A_CLUSTER)
    started = import_settings({**PRODUCTION_ON_A_CLUSTER, "CELERY_BROKER_URL": "redis://celery-redis:6379/0"})

    assert refused.returncode != 0 and "needs CELERY_BROKER_URL" in refused.stderr
    assert started.returncode == 0, started.stderr


def test_a_redis_cluster_url_naming_a_database_other_than_0_is_refused_at_start():
    result = import_settings({"REDIS_URL": "redis://127.0.0.1:7000/1", "REDIS_CLUSTER": "true"})

    assert result.returncode != 0 and "database 0 only" in result.stderr
