"""Single-use stores: a jti is claimed once, atomically, and forgotten after its token expired;
DynamoDB on the moto server over HTTP, Redis on a real server (no Django here)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable

import boto3
import pytest
import redis

from gqlgov_verify import DynamoDbReplayStore, InMemoryReplayStore, RedisReplayStore


def claims_once_among_racing_threads(claim: Callable[[], bool], threads: int = 12) -> list[bool]:
    start = threading.Barrier(threads)
    results: list[bool] = []

    def race() -> None:
        start.wait()
        results.append(claim())

    workers = [threading.Thread(target=race) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sorted(results)


def test_the_in_memory_store_admits_a_jti_once():
    store = InMemoryReplayStore()
    expires_at = time.time() + 65

    assert store.claim("jti-1", expires_at) is True
    assert store.claim("jti-1", expires_at) is False
    assert store.claim("jti-2", expires_at) is True


def test_the_in_memory_store_forgets_what_expired_so_it_stays_small():
    clock = [1000.0]
    store = InMemoryReplayStore(clock=lambda: clock[0])
    for n in range(100):
        store.claim(f"jti-{n}", 1065.0)
    store.claim("late", 1200.0)

    clock[0] = 1100.0
    store.claim("now", 1165.0)

    assert len(store) == 2


def test_the_in_memory_store_is_safe_across_threads():
    store = InMemoryReplayStore()

    assert claims_once_among_racing_threads(lambda: store.claim("shared", time.time() + 60)) == [False] * 11 + [True]


@pytest.fixture
def dynamodb(moto_url):
    client = boto3.client("dynamodb", endpoint_url=moto_url, region_name="us-east-1")
    client.create_table(
        TableName="gqlgov-decisions-used",
        KeySchema=[{"AttributeName": "jti", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "jti", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    client.update_time_to_live(
        TableName="gqlgov-decisions-used", TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"}
    )
    return client


@pytest.mark.slow
def test_dynamodb_admits_a_jti_once_with_a_conditional_put_and_a_ttl(dynamodb):
    store = DynamoDbReplayStore("gqlgov-decisions-used", client=dynamodb)
    expires_at = time.time() + 65.2

    assert store.claim("jti-1", expires_at) is True
    assert store.claim("jti-1", expires_at) is False

    item = dynamodb.get_item(TableName="gqlgov-decisions-used", Key={"jti": {"S": "jti-1"}})["Item"]
    assert item["expires_at"] == {"N": str(int(expires_at) + 1)}
    ttl = dynamodb.describe_time_to_live(TableName="gqlgov-decisions-used")["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}


@pytest.mark.slow
def test_dynamodb_admits_one_of_racing_claims(dynamodb, moto_url):
    # boto3 clients are thread-safe; each thread shares this one, as a Lambda container's threads would.
    store = DynamoDbReplayStore("gqlgov-decisions-used", client=dynamodb)

    assert claims_once_among_racing_threads(lambda: store.claim("shared", time.time() + 60)) == [False] * 11 + [True]


@pytest.mark.slow
def test_dynamodb_errors_propagate_so_nothing_is_admitted_unclaimed(moto_url):
    client = boto3.client("dynamodb", endpoint_url=moto_url, region_name="us-east-1")
    store = DynamoDbReplayStore("no-such-table", client=client)

    with pytest.raises(client.exceptions.ResourceNotFoundException):
        store.claim("jti-1", time.time() + 60)


@pytest.mark.slow
def test_redis_admits_a_jti_once_and_expires_it_with_the_token(redis_url):
    client = redis.Redis.from_url(redis_url)
    prefix = f"test:{uuid.uuid4().hex}:jti:"
    store = RedisReplayStore(client, prefix=prefix)

    assert store.claim("jti-1", time.time() + 65) is True
    assert store.claim("jti-1", time.time() + 65) is False
    assert 60 <= client.ttl(f"{prefix}jti-1") <= 66


@pytest.mark.slow
def test_redis_admits_one_of_racing_claims(redis_url):
    store = RedisReplayStore(redis.Redis.from_url(redis_url), prefix=f"test:{uuid.uuid4().hex}:")

    assert claims_once_among_racing_threads(lambda: store.claim("shared", time.time() + 60)) == [False] * 11 + [True]


@pytest.mark.slow
def test_redis_keeps_an_almost_expired_jti_for_at_least_a_second(redis_url):
    client = redis.Redis.from_url(redis_url)
    prefix = f"test:{uuid.uuid4().hex}:"

    assert RedisReplayStore(client, prefix=prefix).claim("jti-1", time.time() - 3)
    assert client.ttl(f"{prefix}jti-1") == 1
