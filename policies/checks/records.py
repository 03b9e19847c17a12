"""Decision records: redacted before anything is stored or logged, and never lost once acknowledged.

Two ways to store them, chosen by GQLGOV_DECISION_STREAM:

- off (the embedded default, no Redis): the check inserts the record (and, for a mutation, its
  audit event) in one transaction before answering.
- on (deployments with Redis): the check appends the record to a Redis Stream (XADD, one round
  trip) before answering, so a web process that dies after answering has already handed the
  record over. `drain()` (Celery beat task `policies.drain_decisions`, or `manage.py
  drain_decisions --follow`) moves records into the database in batches through a consumer
  group: a batch is inserted idempotently by decision id (with the audit events of the records
  that are new) and only then acknowledged and deleted from the stream; entries a dead drainer
  had read are claimed again after `claim_idle_ms`. If Redis cannot take a record, the check
  falls back to the synchronous insert. Durability across a Redis crash is Redis's own: run it
  with `appendonly yes` (docker-compose does; `appendfsync always` for no window at all).
  Across a failover (Redis Cluster, or any primary with replicas): with GQLGOV_REDIS_WAIT_REPLICAS
  (1 by default on a cluster) the append waits for a replica to have the record (WAIT), and a
  record no replica confirms in time is inserted before the check answers, so no acknowledged
  record depends on the master alone. On a cluster the append is a call of its own (the stream is
  in another slot than the agent's limiter keys).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import re
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction

from agents.audit import record_event
from gqlgov import jsonfast, metrics
from gqlgov.redis import REDIS_ERRORS, Client, get_redis, write_replicated
from gqlgov.storable import storable
from policies import engine
from policies.models import Decision

logger = logging.getLogger(__name__)

# Any 64-bit key of our own: serialises concurrent drainers on PostgreSQL (SQLite writers queue anyway).
_DRAIN_LOCK_KEY = 0x6771_6C67_6F76_0001
_STREAM_RETRY_S = 1.0


@dataclass(frozen=True)
class DecisionRecord:
    id: uuid.UUID
    created_at: datetime
    principal_id: int
    agent_name: str
    schema_name: str
    schema_version: int | None
    policy_version: int | None
    operation: dict[str, Any]
    decision: str
    reasons: list[dict[str, Any]]
    metrics: dict[str, Any]
    client_ip: str | None
    variables_redacted: dict[str, Any]
    document_redacted: str
    document_hash: str
    undeclared_variables: int = 0  # sent but not declared by the operation: counted, never stored
    # The person the agent acted for (`on_behalf_of`); None and "" for a check of the agent's own.
    delegator_id: int | None = None
    delegator_name: str = ""
    context_redacted: dict[str, Any] = dataclasses.field(default_factory=dict)

    @classmethod
    def build(cls, *, identity, request, client_ip, now, decision, active, analysis,
              delegator=None) -> DecisionRecord:
        sent = request.variables if isinstance(request.variables, dict) else {}
        declared = analysis.declared_variables if analysis is not None else frozenset()
        # Only the variables the operation declares are kept; the rest are counted.
        kept = {name: value for name, value in sent.items() if name in declared}
        if active is not None and analysis is not None:
            variables, document = engine.redact(active.bundle, analysis, kept, active.policy.sensitive_globs)
        else:
            # Without a schema nothing tells which values are sensitive: store neither.
            variables, document = {}, ""
        return cls(
            id=uuid.uuid4(),
            created_at=now,
            principal_id=identity.principal.pk,
            agent_name=identity.principal.name,
            schema_name=active.schema_name if active else (request.schema or ""),
            schema_version=active.schema_version if active else None,
            policy_version=active.policy_version if active else None,
            operation=decision.operation or {},
            decision=decision.decision,
            reasons=[reason.as_dict() for reason in decision.reasons],
            metrics=dict(decision.metrics or {}),
            client_ip=client_ip or None,
            variables_redacted=variables or {},
            document_redacted=document,
            document_hash=redacted_document_hash(document),
            undeclared_variables=len(sent) - len(kept),
            delegator_id=delegator.principal.pk if delegator is not None else None,
            delegator_name=delegator.principal.name if delegator is not None else "",
            context_redacted=engine.redact_context(request.context) if request.context else {},
        )

    def with_decision(self, decision: engine.Decision) -> DecisionRecord:
        """This record for the final decision (the limiter turned an allow into a deny)."""
        return dataclasses.replace(self, decision=decision.decision,
                                   reasons=[reason.as_dict() for reason in decision.reasons])

    def to_json(self) -> str:
        # Shallow on purpose: asdict() deep-copies every nested value, a tenth of a check's time.
        data = {name: getattr(self, name) for name in _RECORD_FIELDS}
        data["id"] = str(self.id)
        data["created_at"] = self.created_at.isoformat()
        return jsonfast.dumps(data, default=str).decode("utf-8")

    @classmethod
    def from_json(cls, text: str | bytes) -> DecisionRecord:
        """The record `to_json` wrote, ready for `store_records` (NULs and lone surrogates replaced)."""
        raw = text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass")
        data = jsonfast.loads(raw)
        # Only a JSON escape can put a NUL or a lone surrogate into a parsed string (raw ones are
        # not valid UTF-8): most records have neither and skip the walk over every value.
        if _MAY_NEED_CLEANING.search(raw):
            data = storable(data)
        data["id"] = uuid.UUID(data["id"])
        data["created_at"] = datetime.fromisoformat(data["created_at"])
        return cls(**data)

    def cleaned(self) -> DecisionRecord:
        """This record with every NUL and lone surrogate in its values replaced (PostgreSQL refuses both)."""
        values = storable({name: getattr(self, name) for name in _RECORD_FIELDS if name not in ("id", "created_at")})
        return dataclasses.replace(self, **values)


def redacted_document_hash(document_redacted: str) -> str:
    """The SHA-256 of the redacted document (empty for none): it groups identical requests, and,
    computed after redaction, cannot be brute-forced back to a redacted secret."""
    if not document_redacted:
        return ""
    return hashlib.sha256(document_redacted.encode("utf-8", "surrogatepass")).hexdigest()


_RECORD_FIELDS = tuple(field.name for field in fields(DecisionRecord))
# JSON escapes of NUL and of UTF-16 surrogates (a lone one among them, or a pair `storable` keeps).
_MAY_NEED_CLEANING = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


def stream_key_for_append() -> str | None:
    """The stream a check may append its record to within its limiter round trip (None: stream off
    or failing, or the append must wait for replicas, which a script cannot).

    A record appended that way is durable just as one `record_decision` appends; count it with
    `appended_to_stream()`.
    """
    if settings.GQLGOV_REDIS_WAIT_REPLICAS > 0:
        return None
    if settings.GQLGOV_DECISION_STREAM and time.monotonic() >= _stream._skip_until:
        return settings.GQLGOV_DECISION_STREAM_KEY
    return None


def appended_to_stream() -> None:
    metrics.DECISION_RECORDS.labels("stream").inc()


def record_decision(record: DecisionRecord) -> None:
    """Makes the record durable before the check answers: on the stream when enabled, else in the database."""
    appended = _stream.append(record) if settings.GQLGOV_DECISION_STREAM else False
    if appended is True:
        metrics.DECISION_RECORDS.labels("stream").inc()
        return
    # Not on the stream, or there but on no replica yet (appended is None): the drainer may
    # store the same record, so insert it idempotently then.
    store_records([record.cleaned()], idempotent=appended is None)
    metrics.DECISION_RECORDS.labels("sync").inc()


def store_records(records: Sequence[DecisionRecord], *, idempotent: bool = True) -> list[uuid.UUID]:
    """Inserts the records not stored yet, each mutation check with its audit event, in one transaction.

    Returns the ids inserted now. With `idempotent`, records whose id exists are skipped, so a
    batch may be stored any number of times (a drainer that died before acknowledging it).
    The records must be storable: `DecisionRecord.from_json` and `.cleaned()` make them so.
    """
    if not records:
        return []
    database = connections[DEFAULT_DB_ALIAS]  # not the `connection` proxy: it is read for every value
    table = database.ops.quote_name(Decision._meta.db_table)
    rows = {record.id: _insert_row(database, record) for record in records}
    with transaction.atomic():
        with database.cursor() as cursor:
            if idempotent:
                if database.vendor == "postgresql":
                    cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_DRAIN_LOCK_KEY])
                placeholders = ", ".join(["%s"] * len(rows))
                cursor.execute(f"SELECT id FROM {table} WHERE id IN ({placeholders})",  # noqa: S608
                               [row[_ID_COLUMN] for row in rows.values()])
                for (stored_id,) in cursor.fetchall():
                    rows.pop(stored_id if isinstance(stored_id, uuid.UUID) else uuid.UUID(stored_id), None)
            if rows:
                columns = ", ".join(database.ops.quote_name(field.column) for field in _COLUMNS)
                placeholders = ", ".join(["%s"] * len(_COLUMNS))
                cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({placeholders})",  # noqa: S608
                                   list(rows.values()))
        # `rows` now holds exactly the records inserted (a batch may name one record twice).
        inserted = [record for record in records if rows.pop(record.id, None) is not None]
        for record in inserted:
            if (record.operation or {}).get("type") == "mutation" or record.delegator_name:
                _audit_check(record)
    return [record.id for record in inserted]


_COLUMNS = Decision._meta.concrete_fields
_ID_COLUMN = _COLUMNS.index(Decision._meta.pk)


def _insert_row(database, record: DecisionRecord) -> list[Any]:
    """The record's column values adapted by their model fields, as bulk_create would, without
    building model instances (through bulk_create, the drainer's main cost)."""
    values = _column_values(record)
    return [field.get_db_prep_save(values[field.attname], database) for field in _COLUMNS]


def _column_values(record: DecisionRecord) -> dict[str, Any]:
    operation = record.operation or {}
    return {
        "id": record.id,
        "created_at": record.created_at,
        "principal_id": record.principal_id,
        "agent_name": record.agent_name,
        "schema_name": record.schema_name,
        "schema_version": record.schema_version,
        "policy_version": record.policy_version,
        "operation_name": operation.get("name") or "",
        "operation_type": operation.get("type") or "",
        "root_fields": list(operation.get("root_fields") or []),
        "decision": record.decision,
        "reasons": record.reasons,
        "metrics": record.metrics,
        "client_ip": record.client_ip,
        "variables_redacted": record.variables_redacted,
        "document_redacted": record.document_redacted,
        "document_hash": record.document_hash,
        "undeclared_variables": record.undeclared_variables,
        "delegator_id": record.delegator_id,
        "delegator_name": record.delegator_name,
        "context_redacted": record.context_redacted,
    }


def _audit_check(record: DecisionRecord) -> None:
    """Audits a mutation check (`agent.mutation_checked`) and any check on behalf of a person
    (`agent.checked_on_behalf`, a mutation's too): a person's token was used, so the trail says
    who acted (the actor) and for whom (`on_behalf_of`)."""
    operation = record.operation or {}
    details = {"schema": record.schema_name, "root_fields": operation.get("root_fields"),
               "decision": record.decision, "reasons": [r["code"] for r in record.reasons],
               "checked_at": record.created_at.isoformat()}
    if record.delegator_name:
        details.update(on_behalf_of=record.delegator_name, operation_type=operation.get("type"))
    record_event(
        actor=f"agent:{record.agent_name}",
        action="agent.mutation_checked" if operation.get("type") == "mutation" else "agent.checked_on_behalf",
        target=("policies.decision", str(record.id)),
        details=details,
    )


class _DecisionStream:
    """The web side of the stream: XADD with a short breaker so an outage costs one timeout per second."""

    def __init__(self) -> None:
        self._skip_until = 0.0
        self._lock = threading.Lock()
        self._last_log = -1e9

    def append(self, record: DecisionRecord) -> bool | None:
        """True: on the stream (and on the replicas asked for); False: not on it; None: on it but
        not confirmed by enough replicas in time."""
        if time.monotonic() < self._skip_until:
            return False
        key = settings.GQLGOV_DECISION_STREAM_KEY
        try:
            if settings.GQLGOV_REDIS_WAIT_REPLICAS <= 0:
                stream_client().xadd(key, {"r": record.to_json()})
                return True
            if write_replicated(stream_client(), key, ("XADD", key, "*", "r", record.to_json()),
                                replicas=settings.GQLGOV_REDIS_WAIT_REPLICAS, timeout_ms=settings.GQLGOV_REDIS_WAIT_MS):
                return True
            # A replica is away or behind: until it is back, each record would wait the full timeout.
            self._fail("no replica confirmed the append in time")
            return None
        except REDIS_ERRORS as error:
            self._fail(error)
            return False

    def _fail(self, error: object) -> None:
        with self._lock:
            now = time.monotonic()
            self._skip_until = now + _STREAM_RETRY_S
            log_now = now - self._last_log > 30
            if log_now:
                self._last_log = now
        if log_now:
            logger.error("Decision stream unavailable (%s); storing decision records synchronously", error)


_stream = _DecisionStream()


def stream_client() -> Client:
    return get_redis()
