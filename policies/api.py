from typing import Any

from django.conf import settings
from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from agents.audit import actor_for_principal
from agents.auth import StaffAuth
from gqlgov.errors import NotFound
from policies.selectors import policy_coverage, schema_by_name
from policies.services import schema_register

router = Router(tags=["policies"])


class SchemaVersionIn(Schema):
    sdl: str = Field(max_length=settings.GQLGOV_MAX_SCHEMA_BYTES)


class SchemaVersionOut(Schema):
    schema_name: str = Field(alias="schema")
    version: int
    created: bool
    content_hash: str
    lenient: bool
    diagnostics: list[str]
    operations: list[str]
    diff: dict[str, Any]
    ungoverned: list[str]
    stale: list[dict[str, Any]]


def _version_out(version, created: bool) -> dict[str, Any]:
    coverage = policy_coverage(version.schema.active_policy, version)
    return {
        "schema": version.schema.name,
        "version": version.number,
        "created": created,
        "content_hash": version.content_hash,
        "lenient": version.lenient,
        "diagnostics": version.diagnostics,
        "operations": version.operations,
        "diff": version.diff,
        "ungoverned": coverage.ungoverned,
        "stale": coverage.stale,
    }


@router.post(
    "/schemas/{name}/versions",
    auth=StaffAuth(),
    response={200: SchemaVersionOut, 201: SchemaVersionOut},
    operation_id="register_schema_version",
)
def register_schema_version(request: HttpRequest, name: str, payload: SchemaVersionIn):
    """Registers SDL as a new schema version (201), or returns the identical existing one (200)."""
    version, created = schema_register(
        actor=actor_for_principal(request.identity.principal), name=name, sdl=payload.sdl
    )
    return Status(201 if created else 200, _version_out(version, created))


@router.get("/schemas/{name}", auth=StaffAuth(), response=SchemaVersionOut, operation_id="get_schema")
def get_schema(request: HttpRequest, name: str):
    """The latest version of a schema with its diff, ungoverned operations and stale rule references."""
    schema = schema_by_name(name)
    if schema.latest_version is None:
        raise NotFound(f"schema '{name}'")
    return _version_out(schema.latest_version, False)
