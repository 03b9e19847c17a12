"""Single use: a store remembers each token's `jti` until the token has expired.

`claim(jti, expires_at)` is True exactly once per `jti`, atomically, however many processes share
the store; `expires_at` (epoch seconds) is when the store may forget it. The store's own errors
(DynamoDB or Redis unreachable) propagate: the request is not admitted on an unanswered claim.
"""

from __future__ import annotations

import heapq
import math
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol


class ReplayStore(Protocol):
    """Where used `jti`s are remembered."""

    def claim(self, jti: str, expires_at: float) -> bool:
        """True the first time `jti` is claimed, False every later time (until `expires_at`)."""
        ...


class InMemoryReplayStore:
    """One process's memory: for tests, development and single-process backends."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._used: dict[str, float] = {}
        self._expiries: list[tuple[float, str]] = []  # a heap, so forgetting costs log n per entry

    def claim(self, jti: str, expires_at: float) -> bool:
        with self._lock:
            self._forget_expired(self._clock())
            if jti in self._used:
                return False
            self._used[jti] = expires_at
            heapq.heappush(self._expiries, (expires_at, jti))
            return True

    def __len__(self) -> int:
        return len(self._used)

    def _forget_expired(self, now: float) -> None:
        while self._expiries and self._expiries[0][0] < now:
            _expires_at, jti = heapq.heappop(self._expiries)
            self._used.pop(jti, None)


class RedisReplayStore:
    """A Redis (redis-py client) key per `jti`: `SET prefix+jti 1 NX EX seconds-until-expiry`."""

    def __init__(self, client: Any, *, prefix: str = "gqlgov-verify:jti:") -> None:
        self.client = client
        self.prefix = prefix

    def claim(self, jti: str, expires_at: float) -> bool:
        seconds = max(1, math.ceil(expires_at - time.time()))
        return bool(self.client.set(f"{self.prefix}{jti}", b"1", nx=True, ex=seconds))


class DynamoDbReplayStore:
    """A DynamoDB item per `jti`: a conditional PutItem (`attribute_not_exists`) with a TTL attribute.

    The table has the string partition key `key_attribute` (default `jti`); turn on its Time to Live
    on `ttl_attribute` (default `expires_at`, epoch seconds) so used ids are deleted by DynamoDB.
    """

    def __init__(
        self, table: str, client: Any = None, *, key_attribute: str = "jti", ttl_attribute: str = "expires_at"
    ) -> None:
        if client is None:
            import boto3  # the `dynamodb` extra: only backends that use this store need boto3

            client = boto3.client("dynamodb")
        self.table = table
        self.client = client
        self.key_attribute = key_attribute
        self.ttl_attribute = ttl_attribute

    def claim(self, jti: str, expires_at: float) -> bool:
        try:
            self.client.put_item(
                TableName=self.table,
                Item={self.key_attribute: {"S": jti}, self.ttl_attribute: {"N": str(math.ceil(expires_at))}},
                ConditionExpression="attribute_not_exists(#key)",
                ExpressionAttributeNames={"#key": self.key_attribute},
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True
