"""The drainer: moves decision records from the Redis stream into the database in batches,
through a consumer group (Celery beat task `policies.drain_decisions`, or `manage.py
drain_decisions --follow`). A batch is stored idempotently by decision id and only then
acknowledged and deleted; entries a dead drainer had read are claimed again after
`claim_idle_ms`; a record that cannot be stored moves to `<stream>:dead`."""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Iterable

import redis
from django.conf import settings
from django.db import DataError, IntegrityError

from gqlgov import metrics
from gqlgov.redis import REDIS_ERRORS, Client, redis_client
from policies.checks import records as record_store  # its store_records, looked up at each call
from policies.checks.records import DecisionRecord, stream_client

logger = logging.getLogger("policies.checks.records")

DRAIN_GROUP = "gqlgov-drainers"
_LINGER_S = 0.2


def _consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def _ensure_group(client: Client, key: str) -> None:
    try:
        client.xgroup_create(key, DRAIN_GROUP, id="0", mkstream=True)
    except redis.ResponseError as error:
        if "BUSYGROUP" not in str(error):
            raise


def drain(*, batch_size: int = 500, block_ms: int | None = None, claim_idle_ms: int = 30_000,
          max_batches: int | None = None, client: Client | None = None, retry_own_pending: bool = False,
          linger_s: float | None = None) -> int:
    """Moves decision records from the stream into the database until it is empty; returns how many were new.

    After a batch smaller than `batch_size`, waits `linger_s` (default: 0.2 s when blocking, i.e. a
    following drainer) so records accumulate: a batch's fixed cost (claim, read, existence query,
    insert, acknowledge) then spreads over many records instead of the one or two that arrived
    while the previous batch was stored. The records wait on the stream, already durable.

    `retry_own_pending` first retries the entries this consumer read but did not store (its last
    store failed: the database was away) instead of leaving them to the claim after `claim_idle_ms`.
    """
    # Its own client: a blocking read outlasts the web client's short socket timeout.
    client = client or redis_client(settings.REDIS_URL, cluster=settings.REDIS_CLUSTER,
                                    seeds=settings.REDIS_CLUSTER_NODES, socket_connect_timeout=2,
                                    socket_timeout=(block_ms or 0) / 1000 + 5)
    key = settings.GQLGOV_DECISION_STREAM_KEY
    consumer = _consumer_name()
    _ensure_group(client, key)
    stored = 0
    batches = 0
    linger = (_LINGER_S if block_ms else 0.0) if linger_s is None else linger_s
    if retry_own_pending:
        # Read once, not in the loop: a record that cannot be stored must not be retried forever here.
        answer = client.xreadgroup(DRAIN_GROUP, consumer, {key: "0"}, count=batch_size)
        if answer and answer[0][1]:
            stored += _store_entries(client, key, answer[0][1])
    while max_batches is None or batches < max_batches:
        # Entries another drainer read but never acknowledged (it died): take them over first.
        _next, entries, *_deleted = client.xautoclaim(key, DRAIN_GROUP, consumer, claim_idle_ms, "0-0",
                                                      count=batch_size)
        if not entries:
            answer = client.xreadgroup(DRAIN_GROUP, consumer, {key: ">"}, count=batch_size, block=block_ms)
            entries = answer[0][1] if answer else []
        if not entries:
            return stored
        stored += _store_entries(client, key, entries)
        batches += 1
        if linger and len(entries) < batch_size:
            time.sleep(linger)
    return stored


def _store_entries(client: Client, key: str, entries: Iterable[tuple[bytes, dict[bytes, bytes]]]) -> int:
    ids, records = [], []
    for entry_id, values in entries:
        ids.append(entry_id)
        if values and b"r" in values:  # a claimed entry that was deleted meanwhile has no fields
            try:
                records.append(DecisionRecord.from_json(values[b"r"]))
            except (ValueError, TypeError, KeyError):
                logger.exception("unreadable decision record %s kept in the stream's pending list", entry_id)
                ids.pop()
    try:
        inserted = record_store.store_records(records)
    except (DataError, IntegrityError):
        inserted = _store_one_by_one(client, key, records)
    metrics.DECISION_RECORDS.labels("drained").inc(len(inserted))
    if ids:
        pipe = client.pipeline(transaction=False)
        pipe.xack(key, DRAIN_GROUP, *ids)
        pipe.xdel(key, *ids)
        pipe.execute()
    return len(inserted)


def _store_one_by_one(client: Client, key: str, records: list[DecisionRecord]) -> list[uuid.UUID]:
    """A batch the database refused: stores what it can; a record it can never store goes to the
    dead-letter stream `<key>:dead`, so it neither blocks the stream nor disappears."""
    inserted: list[uuid.UUID] = []
    for record in records:
        try:
            inserted.extend(record_store.store_records([record]))
        except (DataError, IntegrityError):
            logger.exception("decision record %s cannot be stored; moved to %s:dead", record.id, key)
            client.xadd(f"{key}:dead", {"r": record.to_json()})
    return inserted


def drain_for_read() -> bool:
    """Read-your-writes for a record still on the stream: drains what is there; False when the stream is off."""
    if not settings.GQLGOV_DECISION_STREAM:
        return False
    try:
        drain(claim_idle_ms=2_000, max_batches=20)
    except REDIS_ERRORS:
        return False
    return True


def stream_backlog() -> int | None:
    """Records on the stream not yet in the database (None when the stream is off or unreachable)."""
    if not settings.GQLGOV_DECISION_STREAM:
        return None
    try:
        return int(stream_client().xlen(settings.GQLGOV_DECISION_STREAM_KEY))
    except REDIS_ERRORS:
        return None
