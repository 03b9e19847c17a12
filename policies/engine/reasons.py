"""Reason codes and the one constructor that emits each of them.

Every code a Decision can carry is created by exactly one function below, so a code found in a
log leads straight to the place (and the situation) that produced it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

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
EXPRESSION_INPUT_TOO_LARGE = "EXPRESSION_INPUT_TOO_LARGE"
# Emitted by the rate limiter (outside the engine); defined here so every code has one home.
RATE_LIMITED = "RATE_LIMITED"
COST_BUDGET_EXCEEDED = "COST_BUDGET_EXCEEDED"
# Emitted by the check when an allow's variables cannot be bound to its decision token.
VARIABLES_NOT_BINDABLE = "VARIABLES_NOT_BINDABLE"


Path = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Reason:
    """One machine-readable explanation of a decision."""

    code: str
    message: str
    rule: str | None = None
    path: Path | None = None
    limit: int | float | None = None
    actual: int | float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "rule": self.rule,
            "path": list(self.path) if self.path is not None else None,
            "limit": self.limit,
            "actual": self.actual,
        }


def parse_failed(message: str) -> Reason:
    return Reason(GRAPHQL_PARSE_FAILED, message)


def validation_failed(message: str) -> Reason:
    return Reason(GRAPHQL_VALIDATION_FAILED, message)


def operation_not_found(operation_name: str | None, available: Sequence[str]) -> Reason:
    if operation_name is None:
        if available:
            message = "The document defines several operations; operationName must name one of them."
        else:
            message = "The document defines no operation."
    else:
        message = f"The document defines no operation named {operation_name!r}."
    return Reason(OPERATION_NOT_FOUND, message)


def document_too_large(limit: int, actual: int) -> Reason:
    return Reason(
        DOCUMENT_TOO_LARGE,
        f"The document is {actual} bytes long; at most {limit} bytes are accepted.",
        limit=limit,
        actual=actual,
    )


def limit_exceeded(
    dimension: str, limit: int | float, actual: int | float | None, rule: str | None
) -> Reason:
    """A document over one of the six limits; `actual` is None when counting stopped at the limit."""
    shown = f"more than {limit}" if actual is None else str(actual)
    source = f"rule {rule!r}" if rule else "the policy defaults or server caps"
    return Reason(
        LIMIT_CODES[dimension],
        f"{dimension.removeprefix('max_')} is {shown}; {source} allow at most {limit}.",
        rule=rule,
        limit=limit,
        actual=actual,
    )


def no_matching_rule(operation: str, path: Path) -> Reason:
    return Reason(NO_MATCHING_RULE, f"No rule allows {operation} for this agent.", path=path)


def condition_not_met(operation: str, path: Path, rule: str) -> Reason:
    return Reason(
        CONDITION_NOT_MET,
        f"Rule {rule!r} covers {operation} for this agent, but its conditions do not hold.",
        rule=rule,
        path=path,
    )


def denied_by_rule(operation: str, path: Path, rule: str) -> Reason:
    return Reason(DENIED_BY_RULE, f"Rule {rule!r} denies {operation}.", rule=rule, path=path)


def forbidden_field(coordinate: str, path: Path, rule: str) -> Reason:
    return Reason(FORBIDDEN_FIELD, f"Rule {rule!r} forbids the field {coordinate}.", rule=rule, path=path)


def introspection_disabled(path: Path) -> Reason:
    return Reason(INTROSPECTION_DISABLED, "Introspection (__schema, __type) is disabled.", path=path)


def approval_required(operation: str, path: Path, rule: str) -> Reason:
    return Reason(
        APPROVAL_REQUIRED, f"Rule {rule!r} requires a human to approve {operation}.", rule=rule, path=path
    )


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
    )


def limit_used_up(cost: bool, policy_name: str, limit: int, period_s: int | float, retry_after_s: float) -> Reason:
    """RATE_LIMITED or COST_BUDGET_EXCEEDED: the limiter refused a check that a limit's window has no room for."""
    what = "cost budget" if cost else "rate limit"
    return Reason(
        COST_BUDGET_EXCEEDED if cost else RATE_LIMITED,
        f"The {what} {policy_name} ({limit} per {period_s} s) is used up; retry in {retry_after_s:.1f} s.",
        rule=policy_name,
        limit=limit,
    )


def variables_not_bindable(detail: str) -> Reason:
    """VARIABLES_NOT_BINDABLE: the variables have no RFC 8785 canonical form, so no decision token
    (and no verifier) could bind them; `detail` names the value's kind, never the value."""
    return Reason(
        VARIABLES_NOT_BINDABLE,
        f"The variables cannot be bound to a decision token ({detail}): RFC 8785 JSON has no integers "
        "beyond 2**53, no NaN or infinite numbers and no lone surrogates; send such values as strings.",
    )


def without_policy(code: str, message: str) -> Reason:
    """UNKNOWN_SCHEMA and NO_ACTIVE_POLICY: the caller found nothing to decide with."""
    if code not in (UNKNOWN_SCHEMA, NO_ACTIVE_POLICY):
        raise ValueError(f"{code} is not a reason for deciding without a policy")
    return Reason(code, message)
