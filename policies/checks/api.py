"""The agents' side of the check: POST /api/v1/check (`check_query`) and
GET /api/v1/decisions/{id} (`get_decision`), mounted on the one NinjaAPI beside the policies router."""

import re
import time
import uuid
from typing import Any

import pydantic
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from ninja import Field, Router, Schema
from ninja.errors import ValidationError
from pydantic import BaseModel

from agents.auth import AgentAuth, CheckAuth
from agents.delegation import MAX_TOKEN_CHARS
from agents.models import Principal
from gqlgov import jsonfast, metrics
from gqlgov.errors import ApiError, NotFound
from gqlgov.middleware import client_ip
from gqlgov.request_body import json_object
from gqlgov_verify.binding import document_sha256
from policies.checks import drainer, records
from policies.checks.pipeline import CheckRequest, CheckResult, run_check
from policies.models import Decision

router = Router(tags=["policies"])
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")


class CheckIn(BaseModel):
    """A GraphQL request to pre-check, as a GraphQL client would send it, plus the schema it is for.

    Any other key is refused (422 naming it): a client must learn when a field it relies on does
    nothing. `on_behalf_of` is the IdP access token of a person the agent acts for (the header
    X-On-Behalf-Of says the same); `check_request()` makes the pipeline's CheckRequest of it."""

    model_config = pydantic.ConfigDict(extra="forbid")

    # Omitted when `extensions.persistedQuery` names a persisted operation by its hash (Apollo's APQ shape).
    query: str | None = None
    schema_name: str | None = Field(None, alias="schema", max_length=100, pattern=r"^[-a-zA-Z0-9_]+$")
    variables: dict[str, Any] | None = None
    operation_name: str | None = Field(None, alias="operationName", max_length=1000)
    context: dict[str, Any] = Field(default_factory=dict)
    # Re-sent with the id of an approved request: its one allow (see policies/approvals).
    approval_id: str | None = Field(None, max_length=64)
    # GraphQL-over-HTTP's own field; `persistedQuery` ({"version": 1, "sha256Hash": ...}) is read,
    # the rest accepted so standard clients work.
    extensions: dict[str, Any] | None = None
    on_behalf_of: str | None = Field(
        None, min_length=1, max_length=MAX_TOKEN_CHARS,
        description="The IdP access token of the person the agent acts for (or the X-On-Behalf-Of header):"
        " the check is then allowed only if the agent's and the person's rules both allow it.",
    )

    @pydantic.model_validator(mode="after")
    def _a_document_or_its_hash(self) -> "CheckIn":
        persisted = (self.extensions or {}).get("persistedQuery")
        if persisted is None:
            if self.query is None:
                raise ValueError("query is required, unless extensions.persistedQuery names a persisted operation")
            return self
        if not isinstance(persisted, dict) or persisted.get("version") != 1 \
                or not isinstance(persisted.get("sha256Hash"), str) or not _SHA256.fullmatch(persisted["sha256Hash"]):
            raise ValueError('extensions.persistedQuery must be {"version": 1, "sha256Hash": "<64 hex digits>"}')
        if self.query is not None and document_sha256(self.query) != persisted["sha256Hash"].lower():
            raise ValueError("extensions.persistedQuery.sha256Hash is not the SHA-256 of query")
        return self

    @property
    def persisted_sha256(self) -> str | None:
        persisted = (self.extensions or {}).get("persistedQuery")
        return persisted["sha256Hash"].lower() if isinstance(persisted, dict) else None

    def check_request(self, *, on_behalf_of_header: str | None = None) -> CheckRequest:
        """The check this payload asks for (POST /check and the MCP tool build it here). The person's
        token comes from the body or the X-On-Behalf-Of header; both, differing, is a 400
        ON_BEHALF_OF_CONFLICT (neither token is quoted)."""
        on_behalf_of = self.on_behalf_of
        if on_behalf_of_header is not None:
            header = on_behalf_of_header.strip()
            if on_behalf_of is not None and on_behalf_of != header:
                raise ApiError("ON_BEHALF_OF_CONFLICT", "The body's on_behalf_of and the X-On-Behalf-Of header name"
                               " different tokens; send the person's token once.", status=400)
            on_behalf_of = header or on_behalf_of
        return CheckRequest(
            query=self.query or "",
            persisted_sha256=self.persisted_sha256 if self.query is None else None,
            schema=self.schema_name,
            variables=self.variables,
            operation_name=self.operation_name,
            context=self.context,
            approval_id=self.approval_id,
            on_behalf_of=on_behalf_of,
        )


# The check reads its body itself rather than through a ninja body parameter: ninja's generic
# parameter resolution (and a ninja Schema's validation through a DjangoGetter, made for ORM
# objects) cost this hot path several times the parsing itself.
def _check_payload(request: HttpRequest) -> CheckIn:
    """The body as CheckIn: MALFORMED_REQUEST (400) as for every JSON body, VALIDATION_ERROR (422)
    with the locations ninja gives a body parameter."""
    data = json_object(request)
    try:
        return CheckIn.model_validate(data)
    except pydantic.ValidationError as error:
        raise ValidationError([{**detail, "loc": ("body", "payload", *detail["loc"])}
                               for detail in error.errors(include_url=False)]) from error


def observed_check(request: HttpRequest, payload: CheckIn) -> CheckResult:
    """The check `payload` asks for (POST /check's body, or MCP's `check_graphql` arguments), decided,
    recorded and rate-limited for the request's caller, with its metrics; the person's token comes
    from the payload or the request's X-On-Behalf-Of header."""
    started = time.perf_counter()
    try:
        check = payload.check_request(on_behalf_of_header=request.headers.get("X-On-Behalf-Of"))
        result = run_check(identity=request.identity, request=check, client_ip=client_ip(request),
                           reauthenticate=lambda: AgentAuth()(request))
    except ApiError as error:
        metrics.observe_check_error(error.code, error.status, time.perf_counter() - started)
        raise
    # Counted by their true cause: operators read the metrics, the agent the body.
    metrics.observe_check(result.status, {**result.body, "reasons": result.recorded_reasons},
                          time.perf_counter() - started)
    return result


_CHECK_BODY = {"required": True, "content": {"application/json": {"schema": CheckIn.model_json_schema()}}}


@router.post("/check", auth=CheckAuth(), operation_id="check_query", openapi_extra={"requestBody": _CHECK_BODY})
def check_query(request: HttpRequest):
    """May the calling agent run this GraphQL document? Answers allow, deny or pending_approval with reasons."""
    result = observed_check(request, _check_payload(request))
    # What JsonResponse would send, encoded by orjson (the body is plain JSON data).
    response = HttpResponse(
        jsonfast.dumps(result.body, default=DjangoJSONEncoder().default),
        status=result.status,
        content_type="application/json",
    )
    for name, value in result.headers.items():
        response[name] = value
    response.gqlgov_outcome = result.body.get("decision")
    return response


class DecisionOut(Schema):
    decision_id: str
    created_at: str
    agent: str
    on_behalf_of: str | None  # the person the agent acted for
    schema_name: str = Field(alias="schema")
    schema_version: int | None
    policy_version: int | None
    operation: dict[str, Any]
    decision: str
    reasons: list[dict[str, Any]]
    metrics: dict[str, Any]
    variables: dict[str, Any]


@router.get("/decisions/{decision_id}", auth=AgentAuth(), response=DecisionOut, operation_id="get_decision")
def get_decision(request: HttpRequest, decision_id: str):
    """One of the caller's own decisions, or one an agent made on the caller's behalf (others' are
    404), with variables redacted."""
    return own_decision(request.identity.principal, decision_id)


def own_decision(principal: Principal, decision_id: str) -> dict[str, Any]:
    """A decision as GET /decisions/{id} shows it: `principal`'s own or one made on its behalf;
    NotFound for anyone else's."""
    found = Decision.objects.filter(Q(principal=principal) | Q(delegator=principal), pk=_uuid_or_none(decision_id))
    record = found.first()
    if record is None and drainer.drain_for_read():  # the record may still be on the decision stream
        record = found.first()
    if record is None:
        raise NotFound("decision")
    operation = {
        "name": record.operation_name or None,
        "type": record.operation_type or None,
        "root_fields": record.root_fields,
    }
    reasons, decision_metrics, operation = records.as_shown_to_agent(
        record.reasons, record.metrics, operation, record.shown_to_agent
    )
    return {
        "decision_id": str(record.pk),
        "created_at": record.created_at.isoformat(),
        "agent": record.agent_name,
        "on_behalf_of": record.delegator_name or None,
        "schema": record.schema_name,
        "schema_version": record.schema_version,
        "policy_version": record.policy_version,
        "operation": operation,
        "decision": record.decision,
        "reasons": reasons,
        "metrics": decision_metrics,
        "variables": record.variables_redacted,
    }


def _uuid_or_none(text: str):
    try:
        return uuid.UUID(text)
    except ValueError:
        return None
