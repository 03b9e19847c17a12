"""Policy versions: drafts from policy files, activation (approval, rollback) and its exports."""

import copy
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from agents.audit import actor_for_user, record_event
from gqlgov.errors import ApiError
from policies.checks.caches import forget_active_versions
from policies.gateway.services import enqueue_exports_for_policy
from policies.models import PolicyVersion, Schema, SchemaVersion
from policies.services.common import Conflict, PolicyInvalid, _next_number, validate_document


def create_draft(*, schema: Schema, document: dict[str, Any], author, details: dict[str, Any],
                 schema_version: SchemaVersion | None) -> PolicyVersion:
    """A new draft version numbered after the schema's last, pinned to `schema_version`, with its
    `policy.draft_created` event (`details` added to the schema and version); the caller holds the
    transaction."""
    draft = PolicyVersion.objects.create(
        schema=schema, number=_next_number(schema.policy_versions), document=document, author=author,
        schema_version=schema_version,
    )
    record_event(
        actor=actor_for_user(author),
        action="policy.draft_created",
        target=draft,
        details={"schema": schema.name, "version": draft.number,
                 "schema_version": schema_version.number if schema_version else None, **details},
    )
    return draft


def policy_load(*, author, document: dict[str, Any]) -> PolicyVersion:
    """A new draft version from a policy document, pinned to the schema's latest version (a file is
    written against the schema its author sees); invalid documents save nothing (POLICY_INVALID)."""
    name = document.get("schema") if isinstance(document, dict) else None
    if not isinstance(name, str) or not name:
        raise PolicyInvalid([{"rule": None, "field": "schema", "message": "the policy must name its schema"}])
    schema = Schema.objects.filter(name=name).first()
    if schema is None:
        raise PolicyInvalid([{"rule": None, "field": "schema", "message": f"no schema named '{name}' is registered"}])
    validate_document(schema, document)
    for _attempt in range(3):
        try:
            with transaction.atomic():
                version = create_draft(schema=schema, document=document, author=author,
                                       details={"rules": _rule_ids(document)}, schema_version=schema.latest_version)
            return version
        except IntegrityError:
            continue  # a concurrent load took the number; take the next one
    raise Conflict("CONFLICT", "Could not allocate a policy version number; retry.")


def _rule_ids(document: dict[str, Any]) -> list[str]:
    return [str(rule.get("id")) for rule in document.get("rules") or [] if isinstance(rule, dict)]


def policy_rollback(*, actor: str, schema: Schema, number: int) -> PolicyVersion:
    """Re-activates an earlier approved version (audited) and exports it."""
    version = schema.policy_versions.filter(number=number).first()
    if version is None or version.status != PolicyVersion.Status.APPROVED:
        raise Conflict("NOT_APPROVED", f"{schema.name} has no approved policy version {number}.")
    with transaction.atomic():
        _activate(version, actor=actor, action="policy.rolled_back")
    return version


def policy_carry_to_schema_version(*, actor: str, schema: Schema, schema_version: SchemaVersion,
                                   details: dict[str, Any]) -> PolicyVersion:
    """The active policy's rules, unchanged, approved for `schema_version` and activated (audited
    `policy.auto_additive`): what `schema_changes: auto_additive` does for a purely additive version.
    The caller holds the transaction and has established that the version is additive."""
    active = schema.active_policy
    assert active is not None
    version = PolicyVersion.objects.create(
        schema=schema, number=_next_number(schema.policy_versions), document=copy.deepcopy(active.document),
        status=PolicyVersion.Status.APPROVED, schema_version=schema_version, decided_at=timezone.now(),
        review_comment=f"Carried from v{active.number} to schema v{schema_version.number}: an additive change"
        " (schema_changes: auto_additive).",
    )
    _activate(version, actor=actor, action="policy.auto_additive",
              details={"from_version": active.number, "schema_version": schema_version.number, **details})
    return version


def _activate(version: PolicyVersion, *, actor: str, action: str, details: dict[str, Any] | None = None) -> None:
    schema = Schema.objects.select_for_update().get(pk=version.schema_id)
    previous = schema.active_policy.number if schema.active_policy_id else None
    schema.active_policy = version
    schema.save(update_fields=["active_policy"])
    record_event(
        actor=actor,
        action=action,
        target=version,
        details={"schema": schema.name, "version": version.number, "previous_active": previous, **(details or {})},
    )
    transaction.on_commit(forget_active_versions)
    enqueue_exports_for_policy(version, actor=actor)


def user_by_username(username: str):
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise ApiError("NOT_FOUND", f"No user named '{username}'.", status=404)
    return user
