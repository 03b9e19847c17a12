"""Checks a plan against API Gateway's documented limits before any AWS call.

moto accepts much that AWS rejects (a 20 kB resource policy, path parts with spaces), so the
plan is validated here, not by trying. Pure: a plan dict in, violations out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from gqlgov.errors import ApiError
from policies.gateway.plan import canonical_json
from policies.gateway.stage_settings import logging_problems

# https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html
MAX_RESOURCES_PER_API = 300
MAX_POLICY_CHARS = 8192
MAX_STAGES_PER_API = 10
MAX_TAGS = 50
PATH_PART = re.compile(r"^[a-zA-Z0-9._:-]+$")
STAGE_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")
STAGE_VARIABLE_NAME = re.compile(r"^[A-Za-z0-9_]{1,64}$")
STAGE_VARIABLE_VALUE = re.compile(r"^[A-Za-z0-9\-._~:/?#&=,]{1,512}$")
TAG_KEY = re.compile(r"^[\w .:/=+\-@]{1,128}$")
TAG_VALUE = re.compile(r"^[\w .:/=+\-@]{0,256}$")
METHOD_THROTTLE_KEY = re.compile(r"^/[a-zA-Z0-9._:/{}+-]*/(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS|ANY|\*)$")
USAGE_PLAN_NAME = re.compile(r"^[\w .:/=+\-@]{1,255}$")
API_KEY_VALUE = re.compile(r"^[\x21-\x7e]{20,128}$")
QUOTA_PERIODS = {"DAY", "WEEK", "MONTH"}
LAMBDA_ARN = re.compile(r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9_$-]+)?$")
IAM_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
# https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html, API_AddPermission.html
FUNCTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
STATEMENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,100}$")


@dataclass(frozen=True)
class Violation:
    limit: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"limit": self.limit, "message": self.message}


class PlanLimitError(ApiError):
    """The plan exceeds a documented API Gateway limit; nothing was sent to AWS."""

    status = 422

    def __init__(self, violations: list[Violation]) -> None:
        message = "The export plan exceeds API Gateway limits: " + " ".join(v.message for v in violations)
        super().__init__("PLAN_OVER_LIMITS", message, details={"violations": [v.as_dict() for v in violations]})
        self.violations = violations


def policy_size(policy: dict[str, Any] | None) -> int:
    """Characters of the policy as sent (compact JSON); AWS counts the stored document."""
    return len(canonical_json(policy)) if policy else 0


def validate_plan(plan: dict[str, Any]) -> list[Violation]:
    """Every documented limit the plan breaks; an empty list means it may be applied."""
    violations: list[Violation] = []
    routes = plan["routes"]
    resources = 1 + len(routes)  # the root resource, /graphql, one per operation
    if resources > MAX_RESOURCES_PER_API:
        violations.append(
            Violation(
                "resources_per_api",
                (
                    f"{resources} resources (root, /graphql and {len(routes) - 1} operations) "
                    "exceed the limit of "
                    f"{MAX_RESOURCES_PER_API} per REST API: "
                    f"govern at most {MAX_RESOURCES_PER_API - 2} operations on "
                    "this target (split the schema's operations across targets)."
                ),
            )
        )
    for route in routes:
        for part in route["path"].strip("/").split("/"):
            if not PATH_PART.match(part):
                violations.append(
                    Violation(
                        "path_part",
                        (
                            f"path part {part!r} of {route['path']} has characters API Gateway refuses "
                            "(allowed: letters, digits, . _ - :)."
                        ),
                    )
                )
    violations += _policy_violations(plan.get("api", {}).get("policy"))
    stage = plan["stage"]
    if not STAGE_NAME.match(stage["name"]):
        violations.append(Violation("stage_name", f"stage name {stage['name']!r} must match {STAGE_NAME.pattern}."))
    for name, value in stage["variables"].items():
        if not STAGE_VARIABLE_NAME.match(name) or not STAGE_VARIABLE_VALUE.match(value):
            violations.append(Violation("stage_variable", f"stage variable {name}={value!r} is not allowed."))
    violations += [Violation("stage_logging", problem) for problem in logging_problems(stage.get("logging") or {})]
    tags = plan["tags"]
    if len(tags) > MAX_TAGS or not all(TAG_KEY.match(k) and TAG_VALUE.match(v) for k, v in tags.items()):
        violations.append(Violation("tags", f"tags {tags} break the tag format or count limit."))
    integration = plan["integration"]
    if integration["type"] == "AWS_PROXY":
        arn = integration["uri"].split("/functions/")[-1].removesuffix("/invocations")
        if not LAMBDA_ARN.match(arn):
            violations.append(Violation("integration", f"{arn!r} is not a Lambda function ARN."))
    elif not re.match(r"^https?://[^\s]+$", integration["uri"] or ""):
        violations.append(Violation("integration", f"{integration['uri']!r} is not an http(s) URL."))
    for usage_plan in plan.get("usage_plans", ()):
        violations += _usage_plan_violations(usage_plan)
    return violations + _enforcement_violations(plan)


def check_plan(plan: dict[str, Any]) -> None:
    """Raises PlanLimitError naming every violation (and what to merge) when the plan breaks a limit."""
    violations = validate_plan(plan)
    if violations:
        raise PlanLimitError(violations)


def _policy_violations(policy: dict[str, Any] | None) -> list[Violation]:
    size = policy_size(policy)
    if size <= MAX_POLICY_CHARS:
        return []
    statements = sorted(policy["Statement"], key=lambda s: -len(canonical_json(s)))  # type: ignore[index]
    largest = []
    for statement in statements[:5]:
        principals = statement.get("Principal", {})
        who = principals.get("AWS") if isinstance(principals, dict) else principals
        largest.append(
            f"{statement['Sid']} ({len(canonical_json(statement))} chars, "
            f"{len(statement['Resource'])} routes, "
            f"principals {who})"
        )
    return [
        Violation(
            "policy_size",
            (
                f"The resource policy would be {size} characters; API Gateway allows {MAX_POLICY_CHARS}. "
                f"Largest statements: {'; '.join(largest)}. "
                "Merge agents that need the same access into one group "
                "and write the rules for `subjects.groups` "
                "(agents with identical access share a statement), and "
                "merge rules whose operations differ only slightly into one rule with a broader glob "
                "(e.g. `query.orders*`), so fewer distinct route lists remain."
            ),
        )
    ]


def _enforcement_violations(plan: dict[str, Any]) -> list[Violation]:
    """The authorizer function's name and role, the authorizer's ARN, the permissions' ids."""
    violations = []
    function = (plan.get("lambda") or {}).get("function")
    if function and not FUNCTION_NAME.match(function["name"]):
        violations.append(
            Violation(
                "function_name",
                f"Lambda function name {function['name']!r} must be at most 64 letters, digits, - or _: "
                "give the target a shorter name, or an existing authorizer with --authorizer-arn.",
            )
        )
    if function and not IAM_ROLE_ARN.match(function["role"] or ""):
        violations.append(
            Violation(
                "authorizer_role",
                f"{function['role']!r} is not an IAM role ARN: the authorizer function gqlgov deploys needs "
                "an execution role (--authorizer-role-arn).",
            )
        )
    authorizer = plan.get("authorizer")
    if authorizer and authorizer["function_arn"] and not LAMBDA_ARN.match(authorizer["function_arn"]):
        violations.append(Violation("authorizer", f"{authorizer['function_arn']!r} is not a Lambda function ARN."))
    for permission in (plan.get("lambda") or {}).get("permissions", ()):
        if not STATEMENT_ID.match(permission["statement_id"]):
            violations.append(
                Violation("statement_id", f"permission id {permission['statement_id']!r} is not allowed.")
            )
    return violations


def _usage_plan_violations(usage_plan: dict[str, Any]) -> list[Violation]:
    violations = []
    name = usage_plan["name"]
    if not USAGE_PLAN_NAME.match(name):
        violations.append(Violation("usage_plan_name", f"usage plan name {name!r} is not allowed."))
    throttles = [usage_plan.get("throttle"), *usage_plan.get("method_throttles", {}).values()]
    for throttle in filter(None, throttles):
        if (
            not throttle["rateLimit"] > 0
            or int(throttle["burstLimit"]) != throttle["burstLimit"]
            or throttle["burstLimit"] < 0
        ):
            violations.append(Violation("usage_plan_throttle", f"{name}: throttle {throttle} is not valid."))
    for key in usage_plan.get("method_throttles", {}):
        if not METHOD_THROTTLE_KEY.match(key):
            violations.append(
                Violation(
                    "usage_plan_method_key",
                    (f"{name}: method throttle key {key!r} must be /<resource path>/<HTTP method>."),
                )
            )
    quota = usage_plan.get("quota")
    if quota and (quota["period"] not in QUOTA_PERIODS or int(quota["limit"]) <= 0):
        violations.append(Violation("usage_plan_quota", f"{name}: quota {quota} is not valid."))
    return violations


def check_api_key_value(value: str) -> None:
    """API key values are 20 to 128 printable ASCII characters."""
    if not API_KEY_VALUE.match(value):
        raise PlanLimitError([Violation("api_key_value", "API key values must be 20-128 printable ASCII characters.")])
