"""Reason codes and the one constructor that emits each of them.

Every code a Decision can carry is created by exactly one function below, so a code found in a
log leads straight to the place (and the situation) that produced it. Each reason carries a
`hint`: one sentence saying what to change for the check to pass (worded in messages.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from . import messages
from .limits import LIMIT_CODES

GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
OPERATION_NOT_FOUND = "OPERATION_NOT_FOUND"
UNKNOWN_SCHEMA = "UNKNOWN_SCHEMA"
NO_ACTIVE_POLICY = "NO_ACTIVE_POLICY"
NO_MATCHING_RULE = "NO_MATCHING_RULE"
DENIED_BY_RULE = "DENIED_BY_RULE"
FORBIDDEN_FIELD = "FORBIDDEN_FIELD"
INTROSPECTION_DISABLED = "INTROSPECTION_DISABLED"
CONDITION_NOT_MET = "CONDITION_NOT_MET"
# One per limit dimension (limits.LIMIT_DIMENSIONS), emitted by limit_exceeded().
DEPTH_LIMIT = LIMIT_CODES["max_depth"]
ALIAS_LIMIT = LIMIT_CODES["max_aliases"]
ROOT_FIELD_LIMIT = LIMIT_CODES["max_root_fields"]
TOKEN_LIMIT = LIMIT_CODES["max_tokens"]
DIRECTIVE_LIMIT = LIMIT_CODES["max_directives"]
COST_LIMIT = LIMIT_CODES["max_cost"]
DOCUMENT_TOO_LARGE = "DOCUMENT_TOO_LARGE"
APPROVAL_REQUIRED = "APPROVAL_REQUIRED"
SCHEMA_VERSION_PENDING = "SCHEMA_VERSION_PENDING"
NOT_PERSISTED = "NOT_PERSISTED"
EXPRESSION_INPUT_TOO_LARGE = "EXPRESSION_INPUT_TOO_LARGE"
# Emitted by the rate limiter (outside the engine); defined here so every code has one home.
RATE_LIMITED = "RATE_LIMITED"
COST_BUDGET_EXCEEDED = "COST_BUDGET_EXCEEDED"
# Emitted by the check when an allow's variables cannot be bound to its decision token.
VARIABLES_NOT_BINDABLE = "VARIABLES_NOT_BINDABLE"
# Emitted by the check re-sent with an `approval_id` (policies/approvals): the approval's state.
APPROVAL_NOT_FOUND = "APPROVAL_NOT_FOUND"
APPROVAL_MISMATCH = "APPROVAL_MISMATCH"
APPROVAL_USED = "APPROVAL_USED"
APPROVAL_EXPIRED = "APPROVAL_EXPIRED"
APPROVAL_DENIED = "APPROVAL_DENIED"
# Emitted for a check on behalf of a person (delegation.py): the person's token names nobody
# gqlgov knows as a person, or a suspended one.
UNKNOWN_PRINCIPAL = "UNKNOWN_PRINCIPAL"
DELEGATOR_SUSPENDED = "DELEGATOR_SUSPENDED"
# Emitted when a REST request is matched against an API's OpenAPI routes (rest_routes.py).
UNKNOWN_ROUTE = "UNKNOWN_ROUTE"
METHOD_NOT_ALLOWED_BY_API = "METHOD_NOT_ALLOWED_BY_API"
REQUEST_INVALID = "REQUEST_INVALID"


Path = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Reason:
    """One machine-readable explanation of a decision, with a hint on how to act on it."""

    code: str
    message: str
    rule: str | None = None
    path: Path | None = None
    limit: int | float | None = None
    actual: int | float | None = None
    hint: str = field(kw_only=True)
    # "agent" or "delegator" in a check on behalf of a person; None (and left out) otherwise.
    side: str | None = field(default=None, kw_only=True)

    def as_dict(self) -> dict[str, Any]:
        data = {
            "code": self.code,
            "message": self.message,
            "rule": self.rule,
            "path": list(self.path) if self.path is not None else None,
            "limit": self.limit,
            "actual": self.actual,
            "hint": self.hint,
        }
        if self.side is not None:
            data["side"] = self.side
        return data


def on_side(reason: Reason, side: str) -> Reason:
    """`reason` marked as the agent's or the delegator's (delegation.AGENT_SIDE, DELEGATOR_SIDE)."""
    return dataclasses.replace(reason, side=side)


def with_hint(reason: Reason, hint: str) -> Reason:
    """`reason` with a more specific hint (found once the decision is known to be a deny)."""
    return dataclasses.replace(reason, hint=hint)


def parse_failed(message: str) -> Reason:
    return Reason(GRAPHQL_PARSE_FAILED, message, hint=messages.PARSE_HINT)


def validation_failed(message: str, hint: str = messages.VALIDATION_HINT) -> Reason:
    return Reason(GRAPHQL_VALIDATION_FAILED, message, hint=hint)


def operation_not_found(operation_name: str | None, available: Sequence[str]) -> Reason:
    if operation_name is None:
        if available:
            message = "The document defines several operations; operationName must name one of them."
        else:
            message = "The document defines no operation."
    else:
        message = f"The document defines no operation named {operation_name!r}."
    return Reason(OPERATION_NOT_FOUND, message, hint=messages.operation_not_found_hint(operation_name, available))


def document_too_large(limit: int, actual: int) -> Reason:
    return Reason(
        DOCUMENT_TOO_LARGE,
        f"The document is {actual} bytes long; at most {limit} bytes are accepted.",
        limit=limit,
        actual=actual,
        hint=messages.document_too_large_hint(limit),
    )


def limit_exceeded(
    dimension: str,
    limit: int | float,
    actual: int | float | None,
    rule: str | None,
    *,
    budget: bool = False,
) -> Reason:
    """A document over one of the six limits; `actual` is None when counting stopped at the limit.

    `budget`: the limit is a cost budget's capacity (its burst, named by `rule`), which a document
    costlier than it can never fit, however long it waits."""
    return Reason(
        LIMIT_CODES[dimension],
        messages.limit_message(dimension, limit, actual, rule, budget=budget),
        rule=rule,
        limit=limit,
        actual=actual,
        hint=_limit_hint(dimension, limit, actual, budget),
    )


def _limit_hint(dimension: str, limit: int | float, actual: int | float | None, budget: bool) -> str:
    bound = int(limit)
    if dimension == "max_depth":
        return messages.depth_hint(bound)
    if dimension == "max_aliases":
        return messages.alias_hint(bound)
    if dimension == "max_root_fields":
        return messages.root_field_hint(bound)
    if dimension == "max_tokens":
        return messages.token_hint(bound)
    if dimension == "max_directives":
        return messages.directive_hint(bound)
    return messages.cost_hint(limit, actual, budget=budget)


def no_matching_rule(
    operation: str,
    path: Path,
    *,
    callable_operations: Sequence[str] = (),
    callable_count: int = 0,
    contact: str | None = None,
) -> Reason:
    """No rule admits the root field at `path`; the hint names what the agent may call instead."""
    return Reason(
        NO_MATCHING_RULE,
        f"No rule allows {operation} for this agent.",
        path=path,
        hint=messages.no_matching_rule_hint(operation, callable_operations, callable_count, contact),
    )


def condition_not_met(operation: str, path: Path, rule: str, unmet: Sequence[tuple[str, str]] = ()) -> Reason:
    """`unmet`: per failed condition, (when the rule admits, what to do), from messages.*_phrase."""
    message = f"Rule {rule!r} covers {operation} for this agent, but its conditions do not hold."
    return _of_rule(CONDITION_NOT_MET, message, rule, path, messages.condition_hint(rule, operation, unmet))


def denied_by_rule(operation: str, path: Path, rule: str) -> Reason:
    hint = messages.denied_by_rule_hint(rule, operation, path[0])
    return _of_rule(DENIED_BY_RULE, f"Rule {rule!r} denies {operation}.", rule, path, hint)


def forbidden_field(coordinate: str, path: Path, rule: str) -> Reason:
    hint = messages.forbidden_field_hint(rule, coordinate, path)
    return _of_rule(FORBIDDEN_FIELD, f"Rule {rule!r} forbids the field {coordinate}.", rule, path, hint)


def _of_rule(code: str, message: str, rule: str, path: Path, hint: str) -> Reason:
    """A reason about one rule and one selection (the root field, or a field under it)."""
    return Reason(code, message, rule=rule, path=path, hint=hint)


def introspection_disabled(path: Path) -> Reason:
    return Reason(
        INTROSPECTION_DISABLED,
        "Introspection (__schema, __type) is disabled.",
        path=path,
        hint=messages.INTROSPECTION_HINT,
    )


def not_persisted(operation: str, path: Path, rule: str) -> Reason:
    """A rule with `persisted_only` admits the root field, but the document is no persisted operation of the agent's."""
    return Reason(
        NOT_PERSISTED,
        f"Rule {rule} admits {operation} only in persisted operations, and this document is not one of yours.",
        rule=rule, path=path,
        hint="Send a persisted operation by its hash ({\"extensions\": {\"persistedQuery\": {\"version\": 1,"
        " \"sha256Hash\": ...}}}), or ask the policy's owners to persist this document for you.",
    )


def unknown_persisted(sha256: str) -> Reason:
    """A request sent by hash only, naming no persisted operation of the agent's."""
    return Reason(
        NOT_PERSISTED,
        f"No persisted operation of yours has the hash {sha256[:12]}….",
        hint="Send the document itself in query, or ask the policy's owners to persist it for you"
        " (POST /api/v1/persisted-operations).",
    )


def approval_required(operation: str, path: Path, rule: str) -> Reason:
    message = f"Rule {rule!r} requires a human to approve {operation}."
    return _of_rule(APPROVAL_REQUIRED, message, rule, path, messages.approval_hint(operation))


def expression_input_too_large(rule: str, cap: str, limit: int, actual: int) -> Reason:
    """A rule's condition was not evaluated: what it reads (context, args, claims, attributes)
    exceeds the CEL input caps, so the check is denied rather than risk an unbounded evaluation."""
    what = "items in lists and maps" if cap == "items" else "characters in strings"
    return Reason(
        EXPRESSION_INPUT_TOO_LARGE,
        f"Rule {rule!r} has a condition over context, args, claims and attributes holding more than"
        f" {limit} {what} together; send less (e.g. fewer or shorter context values).",
        rule=rule,
        limit=limit,
        actual=actual,
        hint=messages.expression_input_hint(limit, what),
    )


_PERIOD_NAMES = {1: "second", 60: "minute", 3_600: "hour", 86_400: "day"}


def limit_used_up(cost: bool, policy_name: str, limit: int, period_s: int | float, retry_after_s: float, *,
                  burst: int | None = None, remaining: int | None = None, weight: int | None = None,
                  retry_at: str | None = None) -> Reason:
    """RATE_LIMITED or COST_BUDGET_EXCEEDED: the limiter refused a check that a limit's window has no
    room for; the hint says when to retry (`retry_at`, an ISO time) and what is left (`remaining`
    of the `burst`)."""
    what = "cost budget" if cost else "rate limit"
    period = _PERIOD_NAMES.get(int(period_s), f"{period_s} s")
    return Reason(
        COST_BUDGET_EXCEEDED if cost else RATE_LIMITED,
        f"The {what} {policy_name} ({limit} per {period}) is used up; retry in {retry_after_s:.1f} s.",
        rule=policy_name,
        limit=limit,
        hint=messages.used_up_hint(cost, retry_after_s, retry_at, remaining, burst, weight),
    )


def variables_not_bindable(detail: str) -> Reason:
    """VARIABLES_NOT_BINDABLE: the variables have no RFC 8785 canonical form, so no decision token
    (and no verifier) could bind them; `detail` names the value's kind, never the value."""
    return Reason(
        VARIABLES_NOT_BINDABLE,
        f"The variables cannot be bound to a decision token ({detail}): RFC 8785 JSON has no integers "
        "beyond 2**53, no NaN or infinite numbers and no lone surrogates; send such values as strings.",
        hint=messages.VARIABLES_NOT_BINDABLE_HINT,
    )


def approval_refused(code: str, approval_id: str, *, rule: str | None = None, comment: str = "") -> Reason:
    """Why a check re-sent with `approval_id` is denied: the approval is unknown (to this agent),
    bound to another document, variables, schema or policy version, used, expired, or denied
    (`comment`: the approver's, quoted)."""
    if code not in messages.APPROVAL_REFUSALS:
        raise ValueError(f"{code} is not a reason about an approval")
    message, hint = messages.APPROVAL_REFUSALS[code]
    if code == APPROVAL_DENIED and comment:
        message = f"{message} The approver said: {comment}"
    return Reason(code, message.format(id=approval_id), rule=rule, hint=hint)


def schema_version_pending(schema: str, enforced: int, pending: int) -> Reason:
    """A document only a schema version awaiting review accepts: nothing it adds is callable yet."""
    return Reason(
        SCHEMA_VERSION_PENDING,
        f"This document uses what schema '{schema}' v{pending} adds; v{pending} awaits review, and checks are"
        f" decided against v{enforced} until a policy version approved for v{pending} is active.",
        hint=f"Use only what v{enforced} has (GET /api/v1/schemas/{schema}/sdl shows what you may call), or"
        f" ask the policy's owners to review schema v{pending}.",
    )


def without_policy(code: str, message: str, schemas: Sequence[str] | None = None) -> Reason:
    """UNKNOWN_SCHEMA and NO_ACTIVE_POLICY: the caller found nothing to decide with. `schemas`, for
    UNKNOWN_SCHEMA, are those the caller may check: named in the message and the hint."""
    if code not in (UNKNOWN_SCHEMA, NO_ACTIVE_POLICY):
        raise ValueError(f"{code} is not a reason for deciding without a policy")
    if code == NO_ACTIVE_POLICY:
        return Reason(code, message, hint=messages.NO_ACTIVE_POLICY_HINT)
    if schemas is None:
        return Reason(code, message, hint=messages.UNKNOWN_SCHEMA_HINT)
    return Reason(code, messages.unknown_schema_message(message, schemas), hint=messages.unknown_schema_hint(schemas))


def unknown_principal(message: str) -> Reason:
    """UNKNOWN_PRINCIPAL: the person's token (`on_behalf_of`) is valid but names no known person."""
    return Reason(UNKNOWN_PRINCIPAL, message, hint=messages.UNKNOWN_PRINCIPAL_HINT)


def delegator_suspended(name: str) -> Reason:
    """DELEGATOR_SUSPENDED: the person the agent acts for is suspended."""
    return Reason(DELEGATOR_SUSPENDED, f"{name}, on whose behalf the check is made, is suspended.",
                  hint=messages.DELEGATOR_SUSPENDED_HINT)


def unknown_route(method: str, path: str) -> Reason:
    """UNKNOWN_ROUTE: no path template of the API's OpenAPI document matches the path."""
    return Reason(UNKNOWN_ROUTE, f"No route of this API matches {method} {path}.",
                  hint="Call a path the API's OpenAPI document declares (GET /api/v1/apis/{name} lists its routes).")


def method_not_allowed_by_api(method: str, template: str, allowed: Sequence[str]) -> Reason:
    """METHOD_NOT_ALLOWED_BY_API: the path matches `template`, which declares other methods (`allowed`)."""
    return Reason(METHOD_NOT_ALLOWED_BY_API,
                  f"The route {template} does not accept {method}; it accepts {', '.join(allowed) or 'nothing'}.",
                  hint=f"Use one of {', '.join(allowed)} on {template}." if allowed
                  else f"The API's document declares no method on {template}.")


def request_invalid(message: str, location: str, parameter: str | None = None) -> Reason:
    """REQUEST_INVALID: the path, the query string or one parameter (`location` "path" | "query",
    `parameter` its name, also in `path`) does not fit the API's OpenAPI document."""
    where = (location,) if parameter is None else (location, parameter)
    hint = (f"Send the {location} parameter {parameter!r} as the API's OpenAPI document describes it."
            if parameter is not None else
            "Send the path percent-encoded once, with no dot segments, encoded slashes or backslashes, control"
            " characters or fragment.")
    return Reason(REQUEST_INVALID, message, path=where, hint=hint)
