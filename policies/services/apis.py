"""The REST side of the registry: OpenAPI documents registered as immutable versions of a
Schema of kind `openapi` (one registry and one name space with the GraphQL schemas), diffed and
audited (`api.registered`)."""

import hashlib
import re

from django.conf import settings
from django.db import transaction

from agents.audit import record_event
from gqlgov.errors import ApiError
from policies.engine.openapi_document import OpenApiDocumentError, RestApi, build_rest_api, diff_rest_apis
from policies.models import Schema, SchemaVersion
from policies.services.common import Conflict, _next_number

_NAME = re.compile(r"[-a-zA-Z0-9_]{1,100}")


def api_register(*, actor: str, name: str, text: str) -> tuple[SchemaVersion, bool]:
    """A new immutable version of the REST API `name` from an OpenAPI 3.0/3.1 document (JSON or
    YAML), or the existing one when the text is unchanged (created=False).

    Raises VALIDATION_ERROR (422) for a bad name, OPENAPI_TOO_LARGE (413) over GQLGOV_MAX_OPENAPI_BYTES,
    OPENAPI_SYNTAX_ERROR, OPENAPI_TOO_COMPLEX, OPENAPI_INVALID (422) and NAME_TAKEN (409, a GraphQL
    schema has the name); nothing is stored then."""
    if not _NAME.fullmatch(name):
        raise ApiError("VALIDATION_ERROR", "An API name is 1 to 100 letters, digits, - or _.", status=422)
    if "\x00" in text or not _encodable(text):
        raise ApiError("OPENAPI_SYNTAX_ERROR", "The document holds a NUL character or a lone surrogate.", status=422)
    size = len(text.encode("utf-8"))
    if size > settings.GQLGOV_MAX_OPENAPI_BYTES:
        raise ApiError("OPENAPI_TOO_LARGE", f"The document is {size} bytes; at most {settings.GQLGOV_MAX_OPENAPI_BYTES}"
                       " are accepted (GQLGOV_MAX_OPENAPI_BYTES).", status=413,
                       details={"limit": settings.GQLGOV_MAX_OPENAPI_BYTES, "actual": size})
    api = rest_api_of_text(text)
    content_hash = hashlib.sha256(text.encode("utf-8")).hexdigest()
    with transaction.atomic():
        schema, _ = Schema.registry.get_or_create(name=name, defaults={"kind": Schema.Kind.OPENAPI})
        schema = Schema.registry.select_for_update().get(pk=schema.pk)
        if schema.kind != Schema.Kind.OPENAPI:
            raise Conflict("NAME_TAKEN", f"{name!r} is a GraphQL schema; register the OpenAPI document under another"
                           " name.", {"kind": schema.kind})
        existing = schema.versions.filter(content_hash=content_hash).first()
        if existing is not None:
            return existing, False
        previous = schema.latest_version
        # The previous version was validated when it was registered: only its routes are read again.
        diff = diff_rest_apis(build_rest_api(previous.sdl, validate=False).routes, api.routes) if previous else {}
        version = SchemaVersion.objects.create(
            schema=schema, number=_next_number(schema.versions), sdl=text, content_hash=content_hash,
            operations=api.operations, diff=diff, created_by=actor,
        )
        schema.latest_version = version
        schema.save(update_fields=["latest_version"])
        record_event(actor=actor, action="api.registered", target=version, details={
            "api": name, "version": version.number, "content_hash": content_hash,
            "routes": len(api.operations), "routes_added": diff.get("routes_added", []),
            "routes_removed": diff.get("routes_removed", []),
        })
    return version, True


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def rest_api_of_text(text: str) -> RestApi:
    """The OpenAPI document in `text` with its routes, its refusals as the registry's errors (422)."""
    try:
        return build_rest_api(text)
    except OpenApiDocumentError as exc:
        raise ApiError(exc.code, exc.message, status=422, details=exc.details) from None
