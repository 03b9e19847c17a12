from typing import Any, Literal

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from ninja import Field, Router, Schema, Status

from agents.audit import actor_for_principal
from agents.auth import AgentAuth, StaffAuth
from gqlgov.errors import NotFound
from policies import lockstep
from policies.checks.pipeline import subject_of
from policies.selectors import (
    api_by_name,
    own_capabilities,
    own_introspection_json,
    own_sdl,
    policy_coverage,
    schema_by_name,
)
from policies.services import api_register, schema_register
from policies.services.persisted import persisted_operation_create

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
    enforced_version: int | None = Field(
        description="The schema version checks are decided against (the active policy's)."
    )
    added: list[dict[str, Any]] = Field(
        default_factory=list, description="For a version awaiting review: each operation and field it adds, with the"
        " active rules that would reach it (`reached_by`)."
    )
    persisted_operations_broken: list[str] = Field(
        default_factory=list, description="SHA-256 of each persisted operation that does not validate against it."
    )
    awaiting_review: bool = Field(description="Registered after the enforced version: decides no check until a policy"
                                  " version approved for it is active.")


def _version_out(version, created: bool) -> dict[str, Any]:
    coverage = policy_coverage(version.schema.active_policy, version)
    enforced = lockstep.enforced_schema_version(version.schema)
    review = lockstep.version_review(version.schema, version)
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
        "enforced_version": enforced.number if enforced else None,
        "awaiting_review": enforced is not None and version.number > enforced.number,
        "added": [{"operation": op, "reached_by": rules} for op, rules in review["added_operations"]]
        + [{"field": coordinate, "reached_by": rules} for coordinate, rules in review["added_fields"]],
        "persisted_operations_broken": [operation.sha256 for operation in review["persisted_broken"]],
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


_OWN_SCHEMA_RESPONSES = {200: {"description": "SDL, or with ?format=introspection an introspection result", "content": {
    "text/plain": {"schema": {"type": "string"}},
    "application/json": {"schema": {"type": "object", "required": ["__schema"]}},
}}}


@router.get("/schemas/{name}/sdl", auth=AgentAuth(), operation_id="get_own_schema_sdl",
            openapi_extra={"responses": _OWN_SCHEMA_RESPONSES})
def get_own_schema_sdl(request: HttpRequest, name: str, format: Literal["sdl", "introspection"] = "sdl"):
    """The schema as the caller's active rules let it ask: SDL (text/plain), or with
    `?format=introspection` the introspection result (`{"__schema": ...}`) for GraphQL tooling."""
    subject = subject_of(request.identity)
    if format == "introspection":
        return HttpResponse(own_introspection_json(name, subject), content_type="application/json")
    return HttpResponse(own_sdl(name, subject), content_type="text/plain; charset=utf-8")


class ApiVersionIn(Schema):
    document: str = Field(max_length=settings.GQLGOV_MAX_SCHEMA_BYTES,
                          description="The OpenAPI 3.0/3.1 document as text, JSON or YAML (hashed as sent).")


class ApiVersionOut(Schema):
    api: str
    version: int
    created: bool
    content_hash: str = Field(description="SHA-256 of the document's text: an identical text is the same version.")
    operations: list[str] = Field(description="One per route: rest.<METHOD>.<path template>.")
    diff: dict[str, Any] = Field(description="Against the previous version: routes_added, routes_removed,"
                                 " parameters_changed ({operation, added, removed, changed}).")


def _api_version_out(version, created: bool) -> dict[str, Any]:
    return {"api": version.schema.name, "version": version.number, "created": created,
            "content_hash": version.content_hash, "operations": version.operations, "diff": version.diff}


@router.post("/apis/{name}/versions", auth=StaffAuth(), response={200: ApiVersionOut, 201: ApiVersionOut},
             operation_id="register_api_version")
def register_api_version(request: HttpRequest, name: str, payload: ApiVersionIn):
    """Registers an OpenAPI document as a new version of a REST API (201), or returns the identical
    existing one (200)."""
    version, created = api_register(
        actor=actor_for_principal(request.identity.principal), name=name, text=payload.document
    )
    return Status(201 if created else 200, _api_version_out(version, created))


@router.get("/apis/{name}", auth=StaffAuth(), response=ApiVersionOut, operation_id="get_api")
def get_api(request: HttpRequest, name: str):
    """The latest version of a REST API: its routes and its diff against the version before."""
    return _api_version_out(api_by_name(name), False)


class CapabilitiesOut(Schema):
    agent: dict[str, Any]
    schemas: list[dict[str, Any]]
    rate_limit_state: str = Field(description="Where the current state is: per schema, `rate_limit_state` lists each"
                                  " limit and budget with what remains (read, never charged).")


# Mounted here rather than with GET /agents/me (agents/api.py): the agents app imports nothing from
# policies (tests/test_architecture.py), and this answer is made of policies. This router is mounted
# at "/", so the path is /api/v1/agents/me/capabilities all the same.
@router.get("/agents/me/capabilities", auth=AgentAuth(), response=CapabilitiesOut,
            operation_id="get_agent_capabilities")
def get_agent_capabilities(request: HttpRequest):
    """Per schema, the operations the caller may call (effect, condition kinds, limits) and the
    rate limits that apply to it."""
    subject = subject_of(request.identity)
    return {
        "agent": {"name": subject.name, "kind": subject.kind, "groups": list(subject.groups)},
        "schemas": own_capabilities(subject),
        "rate_limit_state": "per schema: rate_limit_state lists each limit's remaining units and reset_after_s",
    }


class PersistedOperationIn(Schema):
    schema_name: str = Field(alias="schema", max_length=100, pattern=r"^[-a-zA-Z0-9_]+$")
    query: str | None = Field(None, max_length=settings.GQLGOV_MAX_DOCUMENT_BYTES,
                              description="The document; or decision_id to persist a recorded check's document.")
    decision_id: str | None = Field(None, max_length=64)
    agent: str | None = Field(None, max_length=100, description="Persist for this agent; or group.")
    group: str | None = Field(None, max_length=100)


class PersistedOperationOut(Schema):
    id: int
    schema_name: str = Field(alias="schema")
    sha256: str
    operation_name: str | None
    agent: str | None
    group: str | None
    created: bool
    persisted_query: dict[str, Any] = Field(description='What agents send instead of the document: '
                                            '{"extensions": {"persistedQuery": ...}}')


@router.post("/persisted-operations", auth=StaffAuth(), operation_id="create_persisted_operation",
             response={200: PersistedOperationOut, 201: PersistedOperationOut})
def create_persisted_operation(request: HttpRequest, payload: PersistedOperationIn):
    """Persists (safelists) a document for an agent or a group, from its text or a recorded decision;
    rules with `persisted_only` then admit it, sent by its SHA-256 as Apollo's persisted queries are."""
    operation, created = persisted_operation_create(
        actor=actor_for_principal(request.identity.principal), schema=schema_by_name(payload.schema_name),
        query=payload.query, decision_id=payload.decision_id, agent=payload.agent, group=payload.group,
    )
    return Status(201 if created else 200, {
        "id": operation.pk, "schema": payload.schema_name, "sha256": operation.sha256,
        "operation_name": operation.operation_name or None,
        "agent": operation.principal.name if operation.principal else None, "group": operation.group or None,
        "created": created, "persisted_query": {"version": 1, "sha256Hash": operation.sha256},
    })
