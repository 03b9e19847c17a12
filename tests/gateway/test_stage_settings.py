"""The plan's gateway responses and stage logging (policies/gateway/stage_settings.py): pure."""

import json
import re

import pytest

from policies.gateway.limits import validate_plan
from tests.gateway.factories import shop_plan

REQUEST_ID = "c0ffee00-1234-4abc-9def-000000000000"


def as_api_gateway_would(template: str, message: str = "Too Many Requests", response_type: str = "THROTTLED") -> str:
    """The template with API Gateway's substitutions: messageString is the message JSON-quoted."""
    return (
        template.replace("$context.error.messageString", json.dumps(message))
        .replace("$context.requestId", REQUEST_ID)
        .replace("$context.error.responseType", response_type)
    )


@pytest.mark.parametrize(
    ("response_type", "status", "code"),
    [
        ("DEFAULT_4XX", None, "GATEWAY_REFUSED"),
        ("DEFAULT_5XX", None, "INTERNAL_ERROR"),
        ("ACCESS_DENIED", "403", "PERMISSION_DENIED"),
        ("UNAUTHORIZED", "401", "AUTHENTICATION_REQUIRED"),
        ("THROTTLED", "429", "RATE_LIMITED"),
        ("QUOTA_EXCEEDED", "429", "QUOTA_EXCEEDED"),
        ("BAD_REQUEST_BODY", "400", "MALFORMED_REQUEST"),
    ],
)
def test_every_gateway_response_answers_gqlgovs_error_shape_with_the_request_id(response_type, status, code):
    response = shop_plan()["gateway_responses"][response_type]
    assert response.get("statusCode") == status
    assert set(response["responseTemplates"]) == {"application/json"}
    body = json.loads(as_api_gateway_would(response["responseTemplates"]["application/json"], 'say "why"'))
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code and body["error"]["message"]
    assert body["error"]["details"]["request_id"] == REQUEST_ID


def test_access_denied_and_5xx_answer_a_fixed_message_the_others_api_gateways():
    responses = shop_plan()["gateway_responses"]
    for response_type, response in responses.items():
        template = response["responseTemplates"]["application/json"]
        passes_message = "$context.error.messageString" in template
        assert passes_message == (response_type not in ("ACCESS_DENIED", "DEFAULT_5XX")), response_type


def test_the_access_log_is_one_json_line_with_request_caller_route_status_latency_and_decision():
    access_log = shop_plan()["stage"]["logging"]["access_log"]
    line = access_log["format"]
    assert "\n" not in line
    variables = set(re.findall(r"\$context\.[\w.]+", line))
    assert {
        "$context.requestId",
        "$context.identity.caller",
        "$context.identity.userArn",
        "$context.resourcePath",
        "$context.httpMethod",
        "$context.status",
        "$context.responseLatency",
        "$context.authorizer.decision_id",
    } <= variables
    # Empty values are written as "-": every value is quoted, so each line stays JSON.
    entry = json.loads(re.sub(r"\$context\.[\w.]+", "-", line))
    assert entry["route"] == "-" and entry["decision_id"] == "-"
    assert access_log["log_group"] == "/aws/apigateway/gqlgov-shop-prod" and access_log["retention_days"] == 30


def test_a_targets_logging_settings_reach_the_plan():
    default = shop_plan()["stage"]["logging"]
    assert (default["execution_log_level"], default["detailed_metrics"], default["cloudwatch_role_arn"]) == (
        "OFF",
        False,
        "",
    )
    logging = shop_plan(
        execution_log_level="info",
        detailed_metrics=True,
        access_log_retention_days=90,
        cloudwatch_role_arn="arn:aws:iam::123456789012:role/logs",
    )["stage"]["logging"]
    assert logging["execution_log_level"] == "INFO" and logging["detailed_metrics"] is True
    assert logging["access_log"]["retention_days"] == 90
    assert logging["cloudwatch_role_arn"] == "arn:aws:iam::123456789012:role/logs"
    assert shop_plan(access_logging=False)["stage"]["logging"]["access_log"] is None


def test_logging_settings_change_the_stage_not_the_deployment():
    # Stage settings apply without a deployment: the deployable part's hash stays the same.
    plan = shop_plan()
    logged = shop_plan(execution_log_level="ERROR", detailed_metrics=True, access_logging=False)
    assert logged["stage"]["variables"]["gqlgov_plan_hash"] == plan["stage"]["variables"]["gqlgov_plan_hash"]
    assert logged["stage"]["logging"] != plan["stage"]["logging"]


@pytest.mark.parametrize(
    ("target_settings", "message"),
    [
        ({"access_log_retention_days": 42}, "retention of 42 days"),
        ({"execution_log_level": "DEBUG"}, "execution log level 'DEBUG'"),
    ],
)
def test_logging_settings_aws_refuses_fail_the_plan_before_any_call(target_settings, message):
    violations = validate_plan(shop_plan(**target_settings))
    assert [v.limit for v in violations] == ["stage_logging"] and message in violations[0].message
