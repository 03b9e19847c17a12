"""The append-only, hash-chained audit trail.

Every write service calls `record_event` inside its own transaction, so the trail can never
disagree with the data. Appending first updates the single chain-head row: that takes the
row lock on PostgreSQL (and the write lock on SQLite), which serialises appends so the chain
never forks.
"""

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from django.db import models, transaction
from django.db.models import F
from django.utils import timezone

from agents.models import AuditChainHead, AuditEvent
from gqlgov.storable import storable

GENESIS_HASH = "0" * 64


def actor_for_user(user) -> str:
    return f"user:{user.get_username()}" if user is not None else "system"


def actor_for_principal(principal) -> str:
    return f"agent:{principal.name}"


def _normalise(details: dict[str, Any] | None) -> dict[str, Any]:
    return storable(json.loads(json.dumps(details or {}, default=str)))


def _event_hash(prev_hash: str, event: AuditEvent) -> str:
    payload = json.dumps(
        {
            "created_at": event.created_at.isoformat(),
            "actor": event.actor,
            "action": event.action,
            "target_type": event.target_type,
            "target_id": event.target_id,
            "details": event.details,
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256((prev_hash + payload).encode("utf-8")).hexdigest()


def record_event(
    *, actor: str, action: str, target: models.Model | tuple[str, str], details: dict[str, Any] | None = None
) -> AuditEvent:
    """Appends one event to the chain; call it inside the transaction of the change it records."""
    if isinstance(target, models.Model):
        # A model that moved apps may keep the type its events always had (`audit_type`).
        target_type, target_id = getattr(target, "audit_type", target._meta.label_lower), str(target.pk)
    else:
        target_type, target_id = target
    with transaction.atomic():
        if not AuditChainHead.objects.filter(pk=1).update(count=F("count") + 1):
            AuditChainHead.objects.create(pk=1, count=1)
        head = AuditChainHead.objects.get(pk=1)
        prev_hash = head.last_hash or GENESIS_HASH
        event = AuditEvent(
            created_at=timezone.now(),
            actor=actor,
            action=action,
            target_type=target_type,
            target_id=target_id,
            details=_normalise(details),
            prev_hash=prev_hash,
        )
        event.hash = _event_hash(prev_hash, event)
        event.save()
        AuditChainHead.objects.filter(pk=1).update(last_hash=event.hash)
    return event


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    events: int
    first_broken_id: int | None = None
    problem: str = ""


def verify_chain() -> ChainReport:
    """Recomputes every hash; names the first event that was altered, removed or reordered."""
    prev_hash = GENESIS_HASH
    count = 0
    for event in AuditEvent.objects.order_by("id").iterator(chunk_size=2000):
        count += 1
        if event.prev_hash != prev_hash:
            return ChainReport(False, count, event.id, "its predecessor was removed or altered")
        if _event_hash(prev_hash, event) != event.hash:
            return ChainReport(False, count, event.id, "its content was altered")
        prev_hash = event.hash
    head = AuditChainHead.objects.filter(pk=1).first()
    expected_head = head.last_hash if head else ""
    expected_count = head.count if head else 0
    if (expected_head or GENESIS_HASH) != prev_hash or expected_count != count:
        return ChainReport(
            False, count, None, f"the newest events were removed ({expected_count} recorded, {count} present)"
        )
    return ChainReport(True, count)
