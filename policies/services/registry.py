"""The schema registry: immutable schema versions, their diffs and their audit events."""

import hashlib

from django.conf import settings
from django.db import transaction

from agents.audit import record_event
from gqlgov.errors import ApiError
from policies import engine, lockstep
from policies.checks.caches import compiled_policy, forget_active_versions, remember_schema_bundle, schema_bundle
from policies.engine.lockstep import not_additive
from policies.models import Schema, SchemaVersion
from policies.services.common import Conflict, _next_number
from policies.services.versions import policy_carry_to_schema_version


def schema_register(*, actor: str, name: str, sdl: str) -> tuple[SchemaVersion, bool]:
    """A new immutable schema version, or the existing one when the SDL is unchanged (created=False).

    Raises SCHEMA_SYNTAX_ERROR (422) with the parser's message and line for unparseable SDL,
    SCHEMA_TOO_LARGE (413) for SDL over GQLGOV_MAX_SCHEMA_TOKENS and SCHEMA_TOO_COMPLEX (422) for
    SDL whose interface implementations would take too long to validate, and NAME_TAKEN (409) when
    a REST API has the name; nothing is stored then.
    """
    bundle = _built(sdl)
    if Schema.registry.filter(name=name).exclude(kind=Schema.Kind.GRAPHQL).exists():
        raise Conflict("NAME_TAKEN", f"{name!r} is a REST API (OpenAPI); register the SDL under another name.",
                       {"kind": Schema.Kind.OPENAPI})
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
        _take_effect_if_additive(actor, schema, version, bundle)
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


def _take_effect_if_additive(actor: str, schema: Schema, version: SchemaVersion, bundle: engine.SchemaBundle) -> None:
    """With `schema_changes: auto_additive`, a purely additive version takes effect at once (its
    active policy carried over, audited); otherwise, or when it is not additive (audited with the
    reasons), it awaits review like any version."""
    enforced = lockstep.enforced_schema_version(schema)
    if schema.schema_changes != Schema.SchemaChanges.AUTO_ADDITIVE or enforced is None:
        return
    active = schema.active_policy
    problems = not_additive(schema_bundle(enforced), bundle, compiled_policy(active, bundle))
    if problems:
        record_event(actor=actor, action="schema.review_required", target=version,
                     details={"schema": schema.name, "version": version.number, "not_additive": problems[:50]})
        return
    policy_carry_to_schema_version(actor=actor, schema=schema, schema_version=version,
                                   details={"previous_schema_version": enforced.number})


def schema_settings_update(*, actor: str, schema: Schema, schema_changes: str | None = None,
                           require_replay: bool | None = None) -> Schema:
    """Sets what a newly registered version does (`schema_changes`: review | auto_additive) and
    whether approval needs a replay first (`require_replay`); audited with before and after."""
    if schema_changes is not None and schema_changes not in Schema.SchemaChanges.values:
        raise ApiError("VALIDATION_ERROR", f"schema_changes must be one of {', '.join(Schema.SchemaChanges.values)}.",
                       status=422)
    changes = {name: value for name, value in (("schema_changes", schema_changes), ("require_replay", require_replay))
               if value is not None}
    with transaction.atomic():
        locked = Schema.objects.select_for_update().get(pk=schema.pk)
        before = {name: getattr(locked, name) for name in changes}
        Schema.objects.filter(pk=schema.pk).update(**changes)
        record_event(actor=actor, action="schema.settings_changed", target=schema,
                     details={"schema": schema.name, "before": before, "after": changes})
    schema.refresh_from_db()
    return schema


def _built(sdl: str) -> engine.SchemaBundle:
    """The SDL built by the engine, its refusals as the registry's documented errors."""
    try:
        return engine.build_schema(sdl, max_tokens=settings.GQLGOV_MAX_SCHEMA_TOKENS)
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
