"""The MCP tools: their JSON Schema inputs (pydantic models), outputs, descriptions written for the
model that calls them, and what each one does: the same service or selector as its REST twin.

Every tool runs for the authenticated caller of the HTTP request, in the request's own thread
(server.py), and answers a JSON object; a refusal of the input is a ToolError (a tool result with
`isError`), so the calling model reads what to fix.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import pydantic
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest
from pydantic import BaseModel, Field

from agents.auth import AgentAuth
from gqlgov.errors import ApiError, error_body, first_line
from gqlgov.request_body import MAX_NESTING, nested_deeper_than
from policies.approvals import services as approvals
from policies.approvals.api import detail as approval_detail
from policies.checks.api import CheckIn, DecisionOut, observed_check, own_decision
from policies.checks.pipeline import subject_of
from policies.selectors import own_capabilities, own_sdl

logger = logging.getLogger("gqlgov.mcp")
_CONFIRMING_AUTH = AgentAuth()

# Bounds on what one call may ask for (the check's own input is bounded by CheckIn and the check).
MAX_OPERATIONS = 100


class ToolError(Exception):
    """A refusal of a tool call, answered as a tool result with `isError` and the API's error body."""

    def __init__(self, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.body = error_body(code, message, details)


class GetSchemaIn(BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")

    schema_name: str = Field(alias="schema", max_length=100, pattern=r"^[-a-zA-Z0-9_]+$",
                             description="The schema's name, as list_operations names it.")
    operations: list[Annotated[str, Field(max_length=200)]] | None = Field(
        None, max_length=MAX_OPERATIONS,
        description='Only the part of the schema reachable from these operations, named as list_operations '
                    'names them ("query.orders"). Leave out for the whole schema you may ask.')


class ApprovalIn(BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")

    approval_id: str = Field(max_length=64, description="The approval.id a check_graphql answer gave.")


class DecisionIn(BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")

    decision_id: str = Field(max_length=64, description="The decision_id a check_graphql answer gave.")


class NoInput(BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")


def _check_graphql(request: HttpRequest, arguments: dict[str, Any]) -> dict[str, Any]:
    # The same body as POST /check's (CheckIn), the same pipeline, records and rate limits.
    if nested_deeper_than(arguments, MAX_NESTING):
        raise ToolError("MALFORMED_REQUEST", f"The arguments are nested deeper than {MAX_NESTING} levels.")
    body: dict[str, Any] = observed_check(request, _validated(CheckIn.model_validate, arguments)).body
    request.gqlgov_outcome = body.get("decision")  # type: ignore[attr-defined]  # for the request's log line
    return body


def _get_schema(request: HttpRequest, arguments: dict[str, Any]) -> dict[str, Any]:
    asked = _validated(GetSchemaIn.model_validate, arguments)
    subject = subject_of(request.identity)
    only = None
    if asked.operations is not None:
        only = frozenset(asked.operations)
        callable_ops = {capability["operation"] for schema in own_capabilities(subject)
                        if schema["schema"] == asked.schema_name for capability in schema["operations"]}
        unknown = sorted(only - callable_ops)
        # Hidden operations and missing ones read the same: an agent learns nothing beyond its own schema.
        if unknown:
            raise ToolError("UNKNOWN_OPERATION", "Not operations you may call here: " + ", ".join(unknown[:20])
                            + ". list_operations names those you may.", {"operations": unknown[:20]})
        if not any(operation.startswith("query.") for operation in only):
            raise ToolError("VALIDATION_ERROR", "Name at least one query operation: a schema starts from its queries.")
    return {"schema": asked.schema_name, "sdl": own_sdl(asked.schema_name, subject, only)}


def _list_operations(request: HttpRequest, arguments: dict[str, Any]) -> dict[str, Any]:
    _validated(NoInput.model_validate, arguments)
    subject = subject_of(request.identity)
    return {"agent": {"name": subject.name, "kind": subject.kind, "groups": list(subject.groups)},
            "schemas": own_capabilities(subject)}


def _get_approval(request: HttpRequest, arguments: dict[str, Any]) -> dict[str, Any]:
    asked = _validated(ApprovalIn.model_validate, arguments)
    return approval_detail(approvals.approval_of_agent(request.identity.principal, asked.approval_id), staff=False)


def _explain_decision(request: HttpRequest, arguments: dict[str, Any]) -> dict[str, Any]:
    asked = _validated(DecisionIn.model_validate, arguments)
    # Through GET /decisions/{id}'s response schema, so both answer the same keys.
    answer: dict[str, Any] = DecisionOut.model_validate(own_decision(request.identity.principal, asked.decision_id)
                                                        ).model_dump()
    return answer


def _validated(parse: Callable[[dict[str, Any]], Any], arguments: dict[str, Any]) -> Any:
    try:
        return parse(arguments)
    except pydantic.ValidationError as error:
        errors = [{"loc": [str(part) for part in detail["loc"]], "msg": detail["msg"], "type": detail["type"]}
                  for detail in error.errors(include_url=False)[:50]]
        raise ToolError("VALIDATION_ERROR", "The arguments are invalid: " + "; ".join(
            f"{'.'.join(e['loc']) or 'arguments'}: {e['msg']}" for e in errors[:5]), {"errors": errors}) from error


@dataclass(frozen=True)
class ToolSpec:
    name: str
    title: str
    description: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    run: Callable[[HttpRequest, dict[str, Any]], dict[str, Any]]


def _object(properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "additionalProperties": True}


_REASONS = {"type": "array", "items": {"type": "object"},
            "description": "Why: each reason's code, message and, where one helps, a hint."}

TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec(
        name="check_graphql",
        title="Check a GraphQL request before running it",
        description=(
            "Ask gqlgov whether you may run this GraphQL document, before you send it to the API. Call it for "
            "every query or mutation; if you do not know the schema yet, call list_operations and get_schema "
            "first and write the document against that schema.\n"
            "The answer's `decision` is `allow` (run exactly this document with these variables, and pass the "
            "`decision_token` to the API if it asks for one), `deny` (do not run it: `reasons` say why and their "
            "`hint`s, or `suggested_query`, say what would be allowed; fix the document and check again, do not "
            "retry it unchanged) or `pending_approval` (a person must approve it: poll get_approval with "
            "`approval.id`, and once approved check again with `approval_id` set). A rate-limit refusal carries "
            "`retry_after_s`. Every answer is recorded; explain_decision shows one again.\n"
            "Acting for a person? Pass their identity provider access token in `on_behalf_of`: the document is "
            "then allowed only if both your rules and theirs allow it, and each reason's `side` says who refused."
        ),
        input_schema=CheckIn.model_json_schema(by_alias=True),
        output_schema=_object({
            "decision": {"type": "string", "enum": ["allow", "deny", "pending_approval"]},
            "decision_id": {"type": "string"}, "policy_version": {"type": ["integer", "null"]},
            "operation": {"type": ["object", "null"]}, "reasons": _REASONS, "metrics": {"type": "object"},
            "decision_token": {"type": "string"}, "approval": {"type": "object"}, "hints": {"type": "object"},
            "rate_limit": {"type": "object"},
        }),
        run=_check_graphql,
    ),
    ToolSpec(
        name="get_schema",
        title="Get your own GraphQL schema",
        description=(
            "The GraphQL schema (SDL) as your rules let you ask it: only the operations you may call, without the "
            "fields denied to you; its leading comment names the limits and rate limits that apply. Write "
            "documents against this schema, not against the API's full one: a field that is not here is refused. "
            "Pass `operations` (from list_operations) for just the part reachable from them, when the whole "
            "schema is large. A schema you may not use is not found."
        ),
        input_schema=GetSchemaIn.model_json_schema(by_alias=True),
        output_schema=_object({"schema": {"type": "string"}, "sdl": {"type": "string"}}),
        run=_get_schema,
    ),
    ToolSpec(
        name="list_operations",
        title="List the operations you may call",
        description=(
            "Call this first. Per schema, the operations you may call (`query.orders`, `mutation.refund`) with "
            "their effect (`allow`, or `require_approval`: a person approves each call), the kinds of conditions "
            "that apply (hours, source addresses, an expression), their limits and the rate limits. Operations "
            "not listed are refused."
        ),
        input_schema=NoInput.model_json_schema(),
        output_schema=_object({"agent": {"type": "object"}, "schemas": {"type": "array", "items": {"type": "object"}}}),
        run=_list_operations,
    ),
    ToolSpec(
        name="get_approval",
        title="Get the status of one of your approval requests",
        description=(
            "The status of an approval request that check_graphql opened (`pending`, `approved`, `denied`, "
            "`expired`, `used`). Poll it now and then while pending, not in a tight loop; once approved, call "
            "check_graphql again with the same document, variables and `approval_id` for its one allow. Only "
            "your own requests are found."
        ),
        input_schema=ApprovalIn.model_json_schema(),
        output_schema=_object({"id": {"type": "string"}, "status": {"type": "string"}}),
        run=_get_approval,
    ),
    ToolSpec(
        name="explain_decision",
        title="Explain one of your past decisions",
        description=(
            "One of your recorded decisions by its `decision_id`: the operation, the decision, its reasons and "
            "metrics (depth, cost, ...), with sensitive variables redacted. Use it to understand a refusal "
            "after the fact. Only your own decisions are found."
        ),
        input_schema=DecisionIn.model_json_schema(),
        output_schema=_object({"decision_id": {"type": "string"}, "decision": {"type": "string"},
                               "reasons": _REASONS}),
        run=_explain_decision,
    ),
)
TOOLS_BY_NAME = {tool.name: tool for tool in TOOLS}


def call(request: HttpRequest, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """What tool `name` answers the request's caller; ToolError when refused, with the code its
    REST twin would answer (DATABASE_UNAVAILABLE, RATE_LIMITER_UNAVAILABLE, ... included)."""
    try:
        if name != "check_graphql" and request.identity.unconfirmed_generation is not None:
            # Authenticated as for a check (its limiter confirms a cached identity); the others
            # confirm it first, as AgentAuth does on their REST twins.
            _CONFIRMING_AUTH(request)
        return TOOLS_BY_NAME[name].run(request, arguments)
    except ApiError as error:
        raise ToolError(error.code, error.message, error.details) from error
    except (OperationalError, InterfaceError) as error:
        # As gqlgov/api.py answers it: an expected outage, one log line, no traceback.
        logger.error("database unavailable: %s", first_line(error))
        raise ToolError("DATABASE_UNAVAILABLE", "The database is unavailable; retry shortly.") from error
    except ToolError:
        raise
    except Exception as error:
        logger.exception("unhandled error in MCP tool %s", name)
        raise ToolError("INTERNAL_ERROR", "Internal error; the request id identifies it in the logs.") from error
