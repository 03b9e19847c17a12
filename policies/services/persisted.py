"""Persisted operations (safelisting): staff promote a document for an agent or a group, from its
text or from a recorded decision; each promotion is validated against the enforced schema version
and audited."""

import re
import uuid

from django.conf import settings
from django.db import transaction

from agents.audit import record_event
from agents.models import Principal
from gqlgov.errors import ApiError, NotFound
from gqlgov_verify.binding import document_sha256
from policies import engine, lockstep
from policies.checks.caches import schema_bundle
from policies.checks.persisted import forget_persisted
from policies.models import Decision, PersistedOperation, Schema

# The operation's name, for the console's list (a document of one named operation).
OPERATION_NAME = re.compile(r"\b(?:query|mutation|subscription)\s+([_A-Za-z][_0-9A-Za-z]*)")


def persisted_operation_create(*, actor: str, schema: Schema, query: str | None = None, decision_id: str | None = None,
                               agent: str | None = None, group: str | None = None) -> tuple[PersistedOperation, bool]:
    """The document (`query`, or the redacted document of decision `decision_id`) persisted for
    `agent` or `group`; (operation, created). The same document for the same agent or group is
    returned as it is (created False). Refused (422) when the document does not validate against
    the schema version checks are decided against, or still holds a redacted value."""
    if (query is None) == (decision_id is None):
        raise ApiError("VALIDATION_ERROR", "Send exactly one of query and decision_id.", status=422)
    if bool(agent) == bool(group):
        raise ApiError("VALIDATION_ERROR", "Persist for exactly one of agent and group.", status=422)
    document = query if query is not None else _recorded_document(schema, decision_id or "")
    operation_name = _validated(schema, document)
    principal = None
    if agent:
        principal = Principal.objects.filter(name=agent).first()
        if principal is None:
            raise NotFound(f"agent '{agent}'")
    sha256 = document_sha256(document)
    with transaction.atomic():
        existing = PersistedOperation.objects.filter(schema=schema, sha256=sha256, principal=principal,
                                                     group=group or "").first()
        if existing is not None:
            return existing, False
        operation = PersistedOperation.objects.create(
            schema=schema, sha256=sha256, document=document, operation_name=operation_name or "",
            principal=principal, group=group or "", created_by=actor,
        )
        record_event(actor=actor, action="persisted_operation.created", target=operation, details={
            "schema": schema.name, "sha256": sha256, "agent": agent, "group": group,
            "from_decision": decision_id,
        })
    transaction.on_commit(forget_persisted)
    return operation, True


def _recorded_document(schema: Schema, decision_id: str) -> str:
    decision = Decision.objects.filter(pk=_uuid(decision_id), schema_name=schema.name).first()
    if decision is None:
        raise NotFound(f"decision {decision_id} of schema '{schema.name}'")
    if not decision.document_redacted:
        raise ApiError("PERSISTED_DOCUMENT_INVALID", "That decision recorded no document.", status=422)
    if engine.REDACTED in decision.document_redacted:
        raise ApiError("PERSISTED_DOCUMENT_REDACTED", "The recorded document had sensitive values redacted; send the"
                       " document with variables for them in query instead.", status=422)
    return decision.document_redacted


def _uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


def _validated(schema: Schema, document: str) -> str | None:
    """The document's operation name once it validates against the enforced schema version."""
    version = lockstep.enforced_schema_version(schema) or schema.latest_version
    if version is None:
        raise ApiError("NO_ACTIVE_POLICY", f"Schema '{schema.name}' has no version yet.", status=409)
    if len(document.encode("utf-8", "surrogatepass")) > settings.GQLGOV_MAX_DOCUMENT_BYTES:
        raise ApiError("PAYLOAD_TOO_LARGE", f"The document is over {settings.GQLGOV_MAX_DOCUMENT_BYTES} bytes.",
                       status=413)
    problems = engine.document_problems(schema_bundle(version), document, limits=lockstep.document_limits())
    if problems:
        raise ApiError("PERSISTED_DOCUMENT_INVALID", f"The document does not validate against schema v{version.number}:"
                       f" {problems[0].message}", status=422, details={"problems": [p.message for p in problems]})
    names = OPERATION_NAME.findall(document)
    return names[0] if len(names) == 1 else None
