"""What the export sets on the stage and the API besides routes and access: gateway responses in
gqlgov's error shape, access logging to a CloudWatch Logs group, execution logging and detailed
metrics. Pure: a target's settings in, plan parts out (plan.py puts them into the plan; the
applier mixes in stage_applier.py to apply them; the IaC renderers read the same dict).

Logging to CloudWatch needs API Gateway's account-level CloudWatch role (AWS::ApiGateway::Account,
``cloudwatchRoleArn``, one per account and region). A target may name one for the export to set
when the account has none; without any, the applier leaves access and execution logging off and
says so in its warnings (a run never fails, and a policy change is never held back, for logs).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# CloudWatch Logs accepts only these retention periods (PutRetentionPolicy); 0: never expire.
RETENTION_DAYS = tuple(
    int(days) for days in "0 1 3 5 7 14 30 60 90 120 150 180 365 400 545 731 1096 1827 2192 2557 2922 3288 3653".split()
)
DEFAULT_RETENTION_DAYS = 30
LOG_LEVELS = ("OFF", "ERROR", "INFO")
# Stage method settings for every resource and method: the patch path prefix and the key in
# GetStage's methodSettings.
ALL_METHODS = "*/*"
# API Gateway quotes $context.error.messageString itself (it is a JSON string literal).
MESSAGE_FROM_GATEWAY = "$context.error.messageString"
_MESSAGE_SLOT = "@@gateway-message@@"

# The access log: one JSON object per request. Every value is quoted because API Gateway writes
# "-" for an empty one. Nothing secret: the caller's ARN and API key id, never a key or a body.
ACCESS_LOG_FIELDS = {
    "request_id": "$context.requestId",
    "request_time": "$context.requestTime",
    "stage": "$context.stage",
    "caller": "$context.identity.caller",
    "user_arn": "$context.identity.userArn",
    "source_ip": "$context.identity.sourceIp",
    "api_key_id": "$context.identity.apiKeyId",
    "http_method": "$context.httpMethod",
    "route": "$context.resourcePath",
    "status": "$context.status",
    "latency_ms": "$context.responseLatency",
    "integration_latency_ms": "$context.integrationLatency",
    "response_type": "$context.error.responseType",
    "decision_id": "$context.authorizer.decision_id",
}
ACCESS_LOG_FORMAT = json.dumps(ACCESS_LOG_FIELDS, separators=(",", ":"))

# Gateway response type -> (status code, error code, message). A status of None keeps the one
# of the response that the DEFAULT_* type stands in for; a message of None passes API Gateway's
# own (short, and about the request: "Invalid request body", "Too Many Requests"). Access denied
# and 5xx answer a fixed message: IAM's names account ids and resource ARNs, a backend failure
# may describe the backend; the request id finds the full story in the access log.
GATEWAY_RESPONSES: dict[str, tuple[str | None, str, str | None]] = {
    "DEFAULT_4XX": (None, "GATEWAY_REFUSED", None),
    "DEFAULT_5XX": (
        None,
        "INTERNAL_ERROR",
        "The gateway or the GraphQL backend failed; the request id identifies it in the access log.",
    ),
    "ACCESS_DENIED": (
        "403",
        "PERMISSION_DENIED",
        "The gateway's policy does not admit this call by this caller (ask POST /api/v1/check why).",
    ),
    "UNAUTHORIZED": ("401", "AUTHENTICATION_REQUIRED", None),
    "THROTTLED": ("429", "RATE_LIMITED", None),
    "QUOTA_EXCEEDED": ("429", "QUOTA_EXCEEDED", None),
    "BAD_REQUEST_BODY": ("400", "MALFORMED_REQUEST", None),
}
CONTENT_TYPE = "application/json"


def error_template(code: str, message: str | None) -> str:
    """The body API Gateway answers: gqlgov's error shape, with the request id and the response type."""
    body = {
        "error": {
            "code": code,
            "message": _MESSAGE_SLOT if message is None else message,
            "details": {"request_id": "$context.requestId", "gateway_response": "$context.error.responseType"},
        }
    }
    return json.dumps(body, separators=(",", ":")).replace(f'"{_MESSAGE_SLOT}"', MESSAGE_FROM_GATEWAY)


def gateway_responses() -> dict[str, dict[str, Any]]:
    """The plan's gateway responses: type -> statusCode (when fixed) and the JSON template."""
    responses: dict[str, dict[str, Any]] = {}
    for response_type, (status, code, message) in sorted(GATEWAY_RESPONSES.items()):
        response: dict[str, Any] = {"responseTemplates": {CONTENT_TYPE: error_template(code, message)}}
        if status is not None:
            response["statusCode"] = status
        responses[response_type] = response
    return responses


@dataclass(frozen=True)
class LoggingSettings:
    """A target's logging settings (GatewayTarget's fields, as plain data)."""

    access_logging: bool = True
    access_log_retention_days: int = DEFAULT_RETENTION_DAYS
    execution_log_level: str = "OFF"
    detailed_metrics: bool = False
    cloudwatch_role_arn: str = ""

    @classmethod
    def of(cls, target: Any) -> LoggingSettings:
        """Accepts LoggingSettings, a dict or any object with GatewayTarget's attribute names;
        what it lacks keeps the defaults."""
        if isinstance(target, LoggingSettings):
            return target
        get = target.get if isinstance(target, Mapping) else lambda key, default=None: getattr(target, key, default)
        defaults = cls()
        level = get("execution_log_level", None)
        retention = get("access_log_retention_days", None)
        return cls(
            access_logging=bool(get("access_logging", defaults.access_logging)),
            access_log_retention_days=defaults.access_log_retention_days if retention is None else int(retention),
            execution_log_level=str(level or defaults.execution_log_level).upper(),
            detailed_metrics=bool(get("detailed_metrics", defaults.detailed_metrics)),
            cloudwatch_role_arn=str(get("cloudwatch_role_arn", "") or ""),
        )


def access_log_group(target_name: str) -> str:
    return f"/aws/apigateway/gqlgov-{target_name}"


def stage_logging(target: Any, target_name: str) -> dict[str, Any]:
    """The plan's ``stage.logging``: the access log (group, retention, format) or None, the
    execution log level and detailed metrics for every method, and the account's CloudWatch role
    to set when it has none ("" leaves the account alone)."""
    settings = LoggingSettings.of(target)
    access_log = None
    if settings.access_logging:
        access_log = {
            "log_group": access_log_group(target_name),
            "retention_days": settings.access_log_retention_days,
            "format": ACCESS_LOG_FORMAT,
        }
    return {
        "access_log": access_log,
        "execution_log_level": settings.execution_log_level,
        "detailed_metrics": settings.detailed_metrics,
        "cloudwatch_role_arn": settings.cloudwatch_role_arn,
    }


def needs_cloudwatch_role(logging: Mapping[str, Any]) -> bool:
    """Whether API Gateway needs the account's CloudWatch role for these settings (metrics do not)."""
    return bool(logging.get("access_log")) or logging.get("execution_log_level", "OFF") != "OFF"


def logging_problems(logging: Mapping[str, Any]) -> list[str]:
    """What is wrong with a plan's logging settings (for limits.py and target validation)."""
    problems = []
    access_log = logging.get("access_log") or {}
    if access_log and access_log.get("retention_days") not in RETENTION_DAYS:
        problems.append(
            f"access log retention of {access_log.get('retention_days')} days: CloudWatch Logs accepts "
            + ", ".join(str(days) for days in RETENTION_DAYS)
            + " (0: never expire)."
        )
    if logging.get("execution_log_level") not in LOG_LEVELS:
        problems.append(f"execution log level {logging.get('execution_log_level')!r}: one of OFF, ERROR, INFO.")
    return problems
