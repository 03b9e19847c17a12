"""Decision records: redacted before anything is stored or logged."""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction

from agents.audit import record_event
from policies import engine
from policies.models import Decision


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

    @classmethod
    def build(cls, *, identity, request, client_ip, now, decision, active, analysis, document_hash) -> "DecisionRecord":
        if active is not None and analysis is not None:
            variables, document = engine.redact(
                active.bundle, analysis, request.variables or {}, active.policy.sensitive_arguments
            )
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
            operation=decision.operation,
            decision=decision.decision,
            reasons=[reason.as_dict() for reason in decision.reasons],
            metrics=dict(decision.metrics),
            client_ip=client_ip or None,
            variables_redacted=variables if isinstance(variables, dict) else {},
            document_redacted=document,
            document_hash=document_hash,
        )


def record_decision(record: DecisionRecord) -> None:
    """Stores the decision; a mutation check also leaves an audit event in the same transaction."""
    operation = record.operation or {}
    with transaction.atomic():
        Decision.objects.create(
            id=record.id,
            created_at=record.created_at,
            principal_id=record.principal_id,
            agent_name=record.agent_name,
            schema_name=record.schema_name,
            schema_version=record.schema_version,
            policy_version=record.policy_version,
            operation_name=operation.get("name") or "",
            operation_type=operation.get("type") or "",
            root_fields=list(operation.get("root_fields") or []),
            decision=record.decision,
            reasons=record.reasons,
            metrics=record.metrics,
            client_ip=record.client_ip,
            variables_redacted=record.variables_redacted,
            document_redacted=record.document_redacted,
            document_hash=record.document_hash,
        )
        if operation.get("type") == "mutation":
            record_event(
                actor=f"agent:{record.agent_name}",
                action="agent.mutation_checked",
                target=("policies.decision", str(record.id)),
                details={"schema": record.schema_name, "root_fields": operation.get("root_fields"),
                         "decision": record.decision, "reasons": [r["code"] for r in record.reasons]},
            )
