"""Gateway responses and stage logging against a real moto server over HTTP (API Gateway and
CloudWatch Logs): read back, idempotency, drift, and the account's CloudWatch role. No database."""

import json

import pytest

from policies.gateway.applier import Applier
from policies.gateway.aws import aws_client
from policies.gateway.stage_applier import logs_client_like
from tests.gateway.aws import counts, recorded_client
from tests.gateway.factories import shop_plan

pytestmark = pytest.mark.slow

LOGS_ROLE = "arn:aws:iam::123456789012:role/apigateway-cloudwatch"
GROUP = "/aws/apigateway/gqlgov-shop-prod"


@pytest.fixture
def aws(moto_url):
    """API Gateway and CloudWatch Logs clients on moto, each with its call recorder."""
    apigateway, gateway_calls = recorded_client(moto_url)
    logs, logs_calls = recorded_client(moto_url, "logs")
    return apigateway, logs, gateway_calls, logs_calls


def apply(aws, plan, *, dry_run=False):
    apigateway, logs, *_ = aws
    return Applier(apigateway, plan, logs=logs, dry_run=dry_run).run()


def drift(aws, plan):
    return [change["change"] for change in apply(aws, plan, dry_run=True).changes]


def writes(aws):
    _, _, gateway_calls, logs_calls = aws
    return counts(gateway_calls.mutating + logs_calls.mutating)


def forget_calls(aws):
    for recorder in aws[2:]:
        recorder.calls.clear()


def test_the_logs_client_follows_the_gateway_clients_region_and_stand_in_endpoint(moto_url):
    on_aws = logs_client_like(aws_client("apigateway", region="eu-west-1"))
    assert on_aws.meta.endpoint_url == "https://logs.eu-west-1.amazonaws.com"
    on_moto = logs_client_like(aws_client("apigateway", region="eu-west-1", endpoint_url=moto_url))
    assert on_moto.meta.endpoint_url == moto_url and on_moto.meta.region_name == "eu-west-1"


def test_gateway_responses_are_put_and_read_back_from_moto(aws):
    apigateway = aws[0]
    plan = shop_plan()
    result = apply(aws, plan)
    live = {r["responseType"]: r for r in apigateway.get_gateway_responses(restApiId=result.rest_api_id)["items"]}
    assert set(live) == {
        "DEFAULT_4XX",
        "DEFAULT_5XX",
        "ACCESS_DENIED",
        "UNAUTHORIZED",
        "THROTTLED",
        "QUOTA_EXCEEDED",
        "BAD_REQUEST_BODY",
    }
    for response_type, wanted in plan["gateway_responses"].items():
        assert live[response_type]["responseTemplates"] == wanted["responseTemplates"]
        assert live[response_type].get("statusCode") == wanted.get("statusCode")
    template = live["ACCESS_DENIED"]["responseTemplates"]["application/json"]
    assert json.loads(template)["error"]["details"]["request_id"] == "$context.requestId"


def test_stage_logging_and_metrics_are_applied_and_read_back_from_moto(aws):
    apigateway, logs, *_ = aws
    plan = shop_plan(cloudwatch_role_arn=LOGS_ROLE, execution_log_level="ERROR", detailed_metrics=True)
    result = apply(aws, plan)
    assert result.warnings == []
    assert apigateway.get_account()["cloudwatchRoleArn"] == LOGS_ROLE

    [group] = logs.describe_log_groups(logGroupNamePrefix=GROUP)["logGroups"]
    assert group["logGroupName"] == GROUP and group["retentionInDays"] == 30
    tags = logs.list_tags_for_resource(resourceArn=group["logGroupArn"])["tags"]
    assert tags["managed-by"] == "gqlgov" and tags["gqlgov:target"] == "shop-prod"

    stage = apigateway.get_stage(restApiId=result.rest_api_id, stageName="prod")
    access_log = stage["accessLogSettings"]
    assert access_log["destinationArn"] == group["logGroupArn"]
    assert json.loads(access_log["format"])["request_id"] == "$context.requestId"
    settings = stage["methodSettings"]["*/*"]
    assert settings["loggingLevel"] == "ERROR" and settings["metricsEnabled"] is True
    assert settings["dataTraceEnabled"] is False


def test_a_second_export_with_logging_makes_no_call_on_either_client(aws):
    plan = shop_plan(cloudwatch_role_arn=LOGS_ROLE, execution_log_level="INFO")
    apply(aws, plan)
    forget_calls(aws)
    result = apply(aws, plan)
    assert writes(aws) == {} and result.changes == []
    assert drift(aws, plan) == []


def test_without_a_cloudwatch_role_logging_stays_off_and_the_run_says_why(aws):
    apigateway, logs, *_ = aws
    plan = shop_plan(execution_log_level="ERROR", detailed_metrics=True)
    result = apply(aws, plan)
    assert len(result.warnings) == 1 and "no CloudWatch role" in result.warnings[0]
    assert "UpdateAccount" not in writes(aws)
    stage = apigateway.get_stage(restApiId=result.rest_api_id, stageName="prod")
    assert not stage.get("accessLogSettings")
    settings = stage["methodSettings"]["*/*"]  # metrics need no role; the log level stays OFF
    assert settings["metricsEnabled"] is True and settings.get("loggingLevel", "OFF") == "OFF"
    assert logs.describe_log_groups(logGroupNamePrefix=GROUP)["logGroups"]  # ready for the role
    assert drift(aws, plan) == []  # nothing to heal until the account has a role

    apigateway.update_account(patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": LOGS_ROLE}])
    assert drift(aws, plan) == [
        "update stage prod: /accessLogSettings/destinationArn, /accessLogSettings/format, /*/*/logging/loglevel"
    ]


def test_an_account_role_someone_else_set_is_kept(aws):
    apigateway = aws[0]
    theirs = "arn:aws:iam::123456789012:role/platform-team-logs"
    apigateway.update_account(patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": theirs}])
    forget_calls(aws)
    result = apply(aws, shop_plan(cloudwatch_role_arn=LOGS_ROLE))
    assert "UpdateAccount" not in writes(aws) and result.warnings == []
    assert apigateway.get_account()["cloudwatchRoleArn"] == theirs
    assert apigateway.get_stage(restApiId=result.rest_api_id, stageName="prod")["accessLogSettings"]


def test_changing_logging_settings_patches_the_stage_without_a_deployment(aws):
    apigateway = aws[0]
    result = apply(aws, shop_plan(cloudwatch_role_arn=LOGS_ROLE, execution_log_level="ERROR"))
    forget_calls(aws)
    changed = shop_plan(
        cloudwatch_role_arn=LOGS_ROLE,
        execution_log_level="INFO",
        detailed_metrics=True,
        access_log_retention_days=365,
    )
    apply(aws, changed)
    assert writes(aws) == {"UpdateStage": 1, "PutRetentionPolicy": 1}
    settings = apigateway.get_stage(restApiId=result.rest_api_id, stageName="prod")["methodSettings"]["*/*"]
    assert settings["loggingLevel"] == "INFO" and settings["metricsEnabled"] is True

    forget_calls(aws)
    apply(aws, shop_plan(cloudwatch_role_arn=LOGS_ROLE, access_logging=False, access_log_retention_days=365))
    assert writes(aws) == {"UpdateStage": 1}
    stage = apigateway.get_stage(restApiId=result.rest_api_id, stageName="prod")
    assert not stage.get("accessLogSettings") and stage["methodSettings"]["*/*"]["loggingLevel"] == "OFF"


def test_drift_in_gateway_responses_and_stage_logging_is_detected_and_healed(aws):
    apigateway, logs, *_ = aws
    plan = shop_plan(cloudwatch_role_arn=LOGS_ROLE, execution_log_level="ERROR")
    api_id = apply(aws, plan).rest_api_id
    apigateway.put_gateway_response(
        restApiId=api_id,
        responseType="ACCESS_DENIED",
        statusCode="403",
        responseTemplates={"application/json": '{"message": $context.error.messageString}'},
    )
    apigateway.update_stage(
        restApiId=api_id,
        stageName="prod",
        patchOperations=[
            {"op": "remove", "path": "/accessLogSettings"},
            {"op": "replace", "path": "/*/*/logging/dataTrace", "value": "true"},  # would log bodies
        ],
    )
    logs.put_retention_policy(logGroupName=GROUP, retentionInDays=1)

    differences = drift(aws, plan)
    assert "put gateway response ACCESS_DENIED" in differences
    assert f"keep log group {GROUP} for 30 days" in differences
    assert (
        "update stage prod: /accessLogSettings/destinationArn, /accessLogSettings/format, /*/*/logging/dataTrace"
        in differences
    )
    assert any(d.startswith("deploy stage prod") for d in differences)  # gateway responses are deployed

    apply(aws, plan)
    assert drift(aws, plan) == []
    assert (
        apigateway.get_stage(restApiId=api_id, stageName="prod")["methodSettings"]["*/*"]["dataTraceEnabled"] is False
    )
