"""Every write to the schema registry and policy versions; each writes its audit event in the same transaction."""

import hashlib
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from agents.audit import actor_for_user, record_event
from agents.models import AuditEvent
from gqlgov.errors import ApiError
from policies import engine
from policies.checks.caches import forget_active_versions, remember_schema_bundle, schema_bundle
from policies.gateway.services import enqueue_exports_for_policy
from policies.models import PolicyVersion, Schema, SchemaVersion


class PolicyInvalid(ApiError):
    status = 422

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        lines = "; ".join(
            f"{e.get('rule') or '-'} {e.get('field') or ''}: {e.get('message')}".strip() for e in errors[:20]
        )
        super().__init__("POLICY_INVALID", f"The policy is invalid: {lines}", status=422, details={"errors": errors})


class Conflict(ApiError):
    status = 409

    def __init__(self, code: str, message: str, details: Any = None) -> None:
        super().__init__(code, message, status=409, details=details)


def _next_number(queryset) -> int:
    return (queryset.aggregate(top=Max("number"))["top"] or 0) + 1


def schema_register(*, actor: str, name: str, sdl: str) -> tuple[SchemaVersion, bool]:
    """A new immutable schema version, or the existing one when the SDL is unchanged (created=False).

    Raises SCHEMA_SYNTAX_ERROR (422) with the parser's message and line for unparseable SDL,
    SCHEMA_TOO_LARGE (413) for SDL over GQLGOV_MAX_SCHEMA_TOKENS and SCHEMA_TOO_COMPLEX (422) for
    SDL whose interface implementations would take too long to validate; nothing is stored then.
    """
    try:
        bundle = engine.build_schema(sdl, max_tokens=settings.GQLGOV_MAX_SCHEMA_TOKENS)
    except engine.SchemaTooLarge as exc:
        raise ApiError(
            "SCHEMA_TOO_LARGE",
            f"{exc} Raise GQLGOV_MAX_SCHEMA_TOKENS (and the web server's timeout: a schema builds at"
            " ~30 µs a token) to register it.",
            status=413,
            details={"max_tokens": exc.max_tokens},
        ) from exc
    except engine.SchemaTooComplex as exc:
        raise ApiError(
            "SCHEMA_TOO_COMPLEX",
            str(exc),
            status=422,
            details={"interface_checks": exc.checks, "max_interface_checks": exc.max_checks},
        ) from exc
    except engine.SchemaBuildError as exc:
        raise ApiError("SCHEMA_INVALID", f"The SDL describes no schema: {exc}", status=422) from exc
    except engine.SchemaSyntaxError as exc:
        raise ApiError(
            "SCHEMA_SYNTAX_ERROR",
            f"The SDL cannot be parsed: {exc}",
            status=422,
            details={"line": getattr(exc, "line", None), "column": getattr(exc, "column", None)},
        ) from exc
    content_hash = hashlib.sha256(sdl.encode("utf-8")).hexdigest()
    with transaction.atomic():
        schema, _ = Schema.objects.get_or_create(name=name)
        schema = Schema.objects.select_for_update().get(pk=schema.pk)
        existing = schema.versions.filter(content_hash=content_hash).first()
        if existing is not None:
            return existing, False
        previous = schema.latest_version
        diff = engine.diff_schemas(schema_bundle(previous), bundle).as_dict() if previous else {}
        version = SchemaVersion.objects.create(
            schema=schema,
            number=_next_number(schema.versions),
            sdl=sdl,
            content_hash=content_hash,
            lenient=bundle.lenient,
            diagnostics=list(bundle.diagnostics),
            operations=list(bundle.operations),
            diff=diff,
            created_by=actor,
        )
        schema.latest_version = version
        schema.save(update_fields=["latest_version"])
        remember_schema_bundle(version, bundle)
        record_event(
            actor=actor,
            action="schema.registered",
            target=version,
            details={
                "schema": name,
                "version": version.number,
                "content_hash": content_hash,
                "lenient": bundle.lenient,
                "operations_added": diff.get("operations_added", []),
            },
        )
    forget_active_versions()
    return version, True


def validate_document(schema: Schema, document: dict[str, Any]) -> None:
    """Compiles the document against the schema's latest version; PolicyInvalid lists every error."""
    bundle = schema_bundle(schema.latest_version) if schema.latest_version_id else None
    try:
        engine.compile_policy(document, schema=bundle)
    except engine.PolicyValidationError as exc:
        raise PolicyInvalid(list(exc.errors)) from exc


def create_draft(*, schema: Schema, document: dict[str, Any], author, details: dict[str, Any]) -> PolicyVersion:
    """A new draft version numbered after the schema's last, with its `policy.draft_created` event
    (`details` added to the schema and version); the caller holds the transaction."""
    draft = PolicyVersion.objects.create(
        schema=schema, number=_next_number(schema.policy_versions), document=document, author=author
    )
    record_event(
        actor=actor_for_user(author),
        action="policy.draft_created",
        target=draft,
        details={"schema": schema.name, "version": draft.number, **details},
    )
    return draft


def policy_load(*, author, document: dict[str, Any]) -> PolicyVersion:
    """A new draft version from a policy document; invalid documents save nothing (POLICY_INVALID)."""
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
                                       details={"rules": _rule_ids(document)})
            return version
        except IntegrityError:
            continue  # a concurrent load took the number; take the next one
    raise Conflict("CONFLICT", "Could not allocate a policy version number; retry.")


def _rule_ids(document: dict[str, Any]) -> list[str]:
    return [str(rule.get("id")) for rule in document.get("rules") or [] if isinstance(rule, dict)]


# Audit actions that make someone a contributor of a version.
_CONTRIBUTING_ACTIONS = (
    "policy.draft_created",
    "policy.rule_saved",
    "policy.rule_deleted",
    "policy.submitted",
)


def contributors(version: PolicyVersion) -> set[str]:
    """Audit actors ("user:<name>") who created, edited or submitted the version, and its author."""
    actors = set(
        AuditEvent.objects.filter(
            target_type=PolicyVersion._meta.label_lower,
            target_id=str(version.pk),
            action__in=_CONTRIBUTING_ACTIONS,
        ).values_list("actor", flat=True)
    )
    if version.author_id is not None:
        actors.add(actor_for_user(version.author))
    return actors


def refuse_self_approval(version: PolicyVersion, user) -> None:
    """The one separation-of-duties rule, for the admin, the API and the command line alike:
    whoever created, edited or submitted a version (or is its author) may not approve or reject it."""
    if actor_for_user(user) in contributors(version):
        raise ApiError(
            "SELF_APPROVAL", "You wrote or edited this version; another approver must review it.", status=403
        )


def policy_approve(*, approver, version: PolicyVersion) -> PolicyVersion:
    """Approves a draft and makes it the active version; the author cannot approve their own."""
    if not approver.has_perm("policies.approve_policyversion"):
        raise ApiError("PERMISSION_DENIED", f"{approver.get_username()} may not approve policies.", status=403)
    refuse_self_approval(version, approver)
    validate_document(version.schema, version.document)
    with transaction.atomic():
        claimed = PolicyVersion.objects.filter(
            pk=version.pk, status__in=[PolicyVersion.Status.DRAFT, PolicyVersion.Status.IN_REVIEW]
        ).update(status=PolicyVersion.Status.APPROVED, approver=approver, decided_at=timezone.now())
        if not claimed:
            raise Conflict("NOT_APPROVABLE", f"Version {version.number} is {version.status}, not a draft.")
        version.refresh_from_db()  # the exporter checks the (now approved) status
        _activate(version, actor=actor_for_user(approver), action="policy.approved")
    version.refresh_from_db()
    return version


def policy_rollback(*, actor: str, schema: Schema, number: int) -> PolicyVersion:
    """Re-activates an earlier approved version (audited) and exports it."""
    version = schema.policy_versions.filter(number=number).first()
    if version is None or version.status != PolicyVersion.Status.APPROVED:
        raise Conflict("NOT_APPROVED", f"{schema.name} has no approved policy version {number}.")
    with transaction.atomic():
        _activate(version, actor=actor, action="policy.rolled_back")
    return version


def _activate(version: PolicyVersion, *, actor: str, action: str) -> None:
    schema = Schema.objects.select_for_update().get(pk=version.schema_id)
    previous = schema.active_policy.number if schema.active_policy_id else None
    schema.active_policy = version
    schema.save(update_fields=["active_policy"])
    record_event(
        actor=actor,
        action=action,
        target=version,
        details={"schema": schema.name, "version": version.number, "previous_active": previous},
    )
    transaction.on_commit(forget_active_versions)
    enqueue_exports_for_policy(version, actor=actor)


def user_by_username(username: str):
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise ApiError("NOT_FOUND", f"No user named '{username}'.", status=404)
    return user
