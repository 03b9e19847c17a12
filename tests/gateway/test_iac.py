"""The IaC renderers: CloudFormation checked offline with cfn-lint, Terraform with a structural
check of its JSON syntax, OpenAPI with openapi-spec-validator and by moto's ImportRestApi; one
template serves every environment through its Parameters / variables."""

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate as validate_openapi

from policies.gateway.iac import render
from tests.gateway import terraform_json
from tests.gateway.aws import recorded_client
from tests.gateway.factories import AUTHORIZER_ARN, LAMBDA_ARN, LAMBDA_ROLE, shop_plan, verifier

CFN_LINT = Path(sys.executable).with_name("cfn-lint")
OTHER_LAMBDA = "arn:aws:lambda:eu-west-1:210987654321:function:shop-graphql-staging"
# Targets that exercise every branch of the renderers.
VARIANTS = {
    "lambda, IAM and API keys": {},
    "HTTP backend, API keys only": {
        "lambda_arn": "",
        "http_url": "https://backend.example/graphql",
        "auth_mode": "api_key",
    },
    "full logging with the account role": {
        "execution_log_level": "INFO",
        "detailed_metrics": True,
        "access_log_retention_days": 0,
        "cloudwatch_role_arn": "arn:aws:iam::123456789012:role/apigateway-logs",
    },
    "no access log": {"access_logging": False, "auth_mode": "iam"},
    "advisory": {"enforcement": "none"},
    "decision authorizer deployed by the export": {
        "enforcement": "authorizer",
        "authorizer_role_arn": LAMBDA_ROLE,
        "verifier": verifier(),
    },
    "decision authorizer given by ARN, HTTP backend": {
        "enforcement": "authorizer",
        "authorizer_arn": AUTHORIZER_ARN,
        "lambda_arn": "",
        "http_url": "https://backend.example/graphql",
    },
}


def authorizer_plan():
    return shop_plan(**VARIANTS["decision authorizer deployed by the export"])


def resolve(value: Any, substitute) -> Any:
    """The document with every parameter reference replaced by `substitute(name)` (None: leave)."""
    if isinstance(value, dict):
        if set(value) == {"Ref"} and substitute(value["Ref"]) is not None:
            return substitute(value["Ref"])
        if set(value) == {"Fn::Sub"}:
            return re.sub(r"\$\{([^}]+)\}", lambda m: str(substitute(m[1])), value["Fn::Sub"])
        return {key: resolve(item, substitute) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve(item, substitute) for item in value]
    if isinstance(value, str):
        whole = re.fullmatch(r"\$\{var\.(\w+)\}", value)
        if whole:
            return substitute(whole[1])
        return re.sub(r"\$\{var\.(\w+)\}", lambda m: str(substitute(m[1])), value)
    return value


def cfn_values(template: dict[str, Any], region: str = "us-east-1", **given: Any):
    values = {name: spec["Default"] for name, spec in template["Parameters"].items()}
    values.update(given, **{"AWS::Region": region, "AWS::Partition": "aws"})
    return values.get


def tf_values(document: dict[str, Any], **given: Any):
    values = {name: spec["default"] for name, spec in document["variable"].items()}
    values.update(given)
    return values.__getitem__


def of_type(template: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r for r in template["Resources"].values() if r["Type"] == kind]


# --- CloudFormation ----------------------------------------------------------------------


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_the_cloudformation_template_passes_cfn_lint(tmp_path, variant):
    template = tmp_path / "gqlgov.json"
    template.write_text(render(shop_plan(**VARIANTS[variant]), "cloudformation"))
    result = subprocess.run(
        [str(CFN_LINT), "--regions", "us-east-1", "eu-west-1", "--", str(template)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_cloudformation_template_has_every_part_of_the_plan():
    plan = shop_plan()
    template = json.loads(render(plan, "cloudformation"))
    kinds = [r["Type"] for r in template["Resources"].values()]
    assert kinds.count("AWS::ApiGateway::Resource") == len(plan["routes"])
    assert kinds.count("AWS::ApiGateway::Method") == len(plan["routes"])
    assert kinds.count("AWS::ApiGateway::GatewayResponse") == 7
    for kind in (
        "RestApi",
        "Deployment",
        "Stage",
        "UsagePlan",
        "ApiKey",
        "UsagePlanKey",
        "RequestValidator",
        "Model",
    ):
        assert f"AWS::ApiGateway::{kind}" in kinds
    resolved = resolve(template, cfn_values(template))
    api = resolved["Resources"]["RestApi"]["Properties"]
    assert api["Policy"] == plan["api"]["policy"]
    usage_plans = [r["Properties"] for r in of_type(resolved, "AWS::ApiGateway::UsagePlan")]
    support = next(p for p in usage_plans if p["UsagePlanName"].endswith("support-bot"))
    assert support["ApiStages"][0]["Throttle"]["/graphql/query.orders/POST"] == {
        "RateLimit": 1,
        "BurstLimit": 10,
    }


def test_the_cloudformation_template_takes_stage_backend_and_names_as_parameters():
    plan = shop_plan()
    template = json.loads(render(plan, "cloudformation"))
    assert {"StageName", "ApiName", "BackendLambdaArn", "AccessLogGroupName", "ExecutionLogLevel"} <= set(
        template["Parameters"]
    )
    literal = json.dumps(template["Resources"])
    for value in (LAMBDA_ARN, "us-east-1", "execute-api:/prod/", '"prod"', "gqlgov-shop-prod"):
        assert value not in literal, f"{value} is written into the resources"

    defaults = resolve(template, cfn_values(template))["Resources"]
    assert defaults["Stage"]["Properties"]["StageName"] == "prod"
    assert defaults["GraphqlResourcePost"]["Properties"]["Integration"]["Uri"] == plan["integration"]["uri"]
    names = sorted(p["Properties"]["UsagePlanName"] for p in defaults.values() if p["Type"].endswith("UsagePlan"))
    assert names == sorted(p["name"] for p in plan["usage_plans"])

    staging = resolve(template, cfn_values(template, "eu-west-1", StageName="staging", BackendLambdaArn=OTHER_LAMBDA))
    resources = staging["Resources"]
    uri = resources["GraphqlResourcePost"]["Properties"]["Integration"]["Uri"]
    assert uri == f"arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/{OTHER_LAMBDA}/invocations"
    routes = [r for s in resources["RestApi"]["Properties"]["Policy"]["Statement"] for r in s["Resource"]]
    assert routes and all(route.startswith("execute-api:/staging/POST/graphql") for route in routes)


def test_the_cloudformation_template_logs_the_stage_and_answers_gqlgovs_errors():
    plan = shop_plan(execution_log_level="ERROR", cloudwatch_role_arn="arn:aws:iam::123456789012:role/logs")
    template = json.loads(render(plan, "cloudformation"))
    resolved = resolve(template, cfn_values(template))["Resources"]
    stage = resolved["Stage"]["Properties"]
    assert stage["AccessLogSetting"]["DestinationArn"] == {"Fn::GetAtt": ["AccessLogGroup", "Arn"]}
    assert json.loads(stage["AccessLogSetting"]["Format"])["decision_id"] == "$context.authorizer.decision_id"
    assert stage["MethodSettings"] == [
        {
            "ResourcePath": "/*",
            "HttpMethod": "*",
            "LoggingLevel": "ERROR",
            "MetricsEnabled": "false",
            "DataTraceEnabled": False,
        }
    ]
    group = resolved["AccessLogGroup"]["Properties"]
    assert group["LogGroupName"] == "/aws/apigateway/gqlgov-shop-prod" and group["RetentionInDays"] == 30
    assert resolved["ApiGatewayAccount"]["Properties"] == {"CloudWatchRoleArn": "arn:aws:iam::123456789012:role/logs"}
    responses = {r["Properties"]["ResponseType"]: r for r in resolved.values() if r["Type"].endswith("GatewayResponse")}
    assert set(responses) == set(plan["gateway_responses"])
    denied = responses["ACCESS_DENIED"]["Properties"]
    assert denied["StatusCode"] == "403"
    assert json.loads(denied["ResponseTemplates"]["application/json"])["error"]["code"] == "PERMISSION_DENIED"
    deployment = next(r for r in resolved.values() if r["Type"] == "AWS::ApiGateway::Deployment")
    assert set(deployment["DependsOn"]) >= {
        name for name, r in resolved.items() if r["Type"].endswith("GatewayResponse")
    }


# --- Terraform ---------------------------------------------------------------------------


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_the_terraform_document_passes_the_structural_check(variant):
    document = json.loads(render(shop_plan(**VARIANTS[variant]), "terraform"))
    assert terraform_json.problems(document) == []


def test_the_structural_check_catches_undeclared_variables_and_resources():
    document = json.loads(render(shop_plan(), "terraform"))
    stage = document["resource"]["aws_api_gateway_stage"]["gqlgov"]
    stage["stage_name"] = "${var.environment}"
    stage["deployment_id"] = "${aws_api_gateway_deployment.other.id}"
    del document["variable"]["region"]
    document["resources"] = {}
    assert terraform_json.problems(document) == [
        "schema: Additional properties are not allowed ('resources' was unexpected) at []"
    ]
    del document["resources"]
    assert set(terraform_json.problems(document)) == {
        "reference to undeclared resource aws_api_gateway_deployment.other",
        "undeclared variable var.environment",
        "undeclared variable var.region",
    }


def test_the_terraform_document_parses_and_names_every_resource_kind():
    plan = shop_plan()
    document = json.loads(render(plan, "terraform"))
    resolved = resolve(document, tf_values(document))
    resource = resolved["resource"]
    assert len(resource["aws_api_gateway_resource"]) == len(plan["routes"])
    assert json.loads(resource["aws_api_gateway_rest_api"]["gqlgov"]["policy"]) == plan["api"]["policy"]
    assert resource["aws_api_gateway_stage"]["gqlgov"]["variables"]["gqlgov_policy_version"] == "1"
    assert len(resource["aws_api_gateway_gateway_response"]) == 7
    assert set(resource) >= {
        "aws_api_gateway_usage_plan",
        "aws_api_gateway_api_key",
        "aws_api_gateway_usage_plan_key",
        "aws_api_gateway_deployment",
        "aws_api_gateway_integration",
        "aws_api_gateway_method",
        "aws_api_gateway_method_settings",
        "aws_cloudwatch_log_group",
    }


def test_the_terraform_document_takes_region_stage_backend_and_names_as_variables():
    plan = shop_plan(detailed_metrics=True)
    document = json.loads(render(plan, "terraform"))
    assert {"region", "stage", "api_name", "backend_lambda_arn", "access_log_group_name", "detailed_metrics"} <= set(
        document["variable"]
    )
    assert document["provider"]["aws"]["region"] == "${var.region}"
    literal = json.dumps(document["resource"])
    for value in (LAMBDA_ARN, "us-east-1", "execute-api:/prod/", '"prod"', "gqlgov-shop-prod"):
        assert value not in literal, f"{value} is written into the resources"

    defaults = resolve(document, tf_values(document))["resource"]
    assert defaults["aws_api_gateway_integration"]["graphqlresource"]["uri"] == plan["integration"]["uri"]
    assert defaults["aws_api_gateway_method_settings"]["all"]["settings"]["metrics_enabled"] is True
    names = sorted(p["name"] for p in defaults["aws_api_gateway_usage_plan"].values())
    assert names == sorted(p["name"] for p in plan["usage_plans"])

    staging = resolve(
        document, tf_values(document, region="eu-west-1", stage="staging", backend_lambda_arn=OTHER_LAMBDA)
    )
    resource = staging["resource"]
    assert resource["aws_api_gateway_stage"]["gqlgov"]["stage_name"] == "staging"
    assert OTHER_LAMBDA in resource["aws_api_gateway_integration"]["graphqlresource"]["uri"]
    policy = json.loads(resource["aws_api_gateway_rest_api"]["gqlgov"]["policy"])
    routes = [r for s in policy["Statement"] for r in s["Resource"]]
    assert routes and all(route.startswith("execute-api:/staging/POST/graphql") for route in routes)


# --- OpenAPI -----------------------------------------------------------------------------


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_the_openapi_document_is_valid_openapi_3_0(variant):
    document = json.loads(render(shop_plan(**VARIANTS[variant]), "openapi"))
    assert document["openapi"].startswith("3.0")
    validate_openapi(document)  # raises on any violation of the OpenAPI 3.0 schema


def test_the_openapi_document_carries_the_api_gateway_extensions():
    plan = shop_plan()
    document = json.loads(render(plan, "openapi"))
    post = document["paths"]["/graphql/query.orders"]["post"]
    assert post["x-amazon-apigateway-integration"]["type"] == "aws_proxy"
    assert post["x-amazon-apigateway-request-validator"] == "gqlgov-body"
    assert document["x-amazon-apigateway-request-validators"]["gqlgov-body"]["validateRequestBody"] is True
    assert document["x-amazon-apigateway-policy"] == plan["api"]["policy"]
    body = document["components"]["schemas"]["GqlgovGraphQLRequest"]
    assert body["required"] == ["query"] and body["properties"]["variables"] == {"type": "object", "nullable": True}
    assert document["components"]["securitySchemes"]["sigv4"]["x-amazon-apigateway-authtype"] == "awsSigv4"
    assert post["security"] == [{"sigv4": [], "api_key": []}]
    responses = document["x-amazon-apigateway-gateway-responses"]
    assert responses["THROTTLED"]["statusCode"] == "429"
    assert "$context.requestId" in responses["THROTTLED"]["responseTemplates"]["application/json"]


@pytest.mark.slow
def test_moto_imports_the_openapi_document_with_fail_on_warnings(moto_url):
    plan = shop_plan()
    client, _ = recorded_client(moto_url)
    api = client.import_rest_api(body=render(plan, "openapi").encode(), failOnWarnings=True)
    assert api["name"] == "gqlgov-shop-prod"
    resources = {r["path"]: r for r in client.get_resources(restApiId=api["id"], embed=["methods"])["items"]}
    assert {route["path"] for route in plan["routes"]} <= set(resources)
    method = client.get_method(
        restApiId=api["id"], resourceId=resources["/graphql/query.orders"]["id"], httpMethod="POST"
    )
    assert method["methodIntegration"]["type"].upper() == "AWS_PROXY"
    assert method["methodIntegration"]["uri"] == plan["integration"]["uri"]


@pytest.mark.parametrize("fmt", ["cloudformation", "terraform", "openapi", "json"])
def test_every_format_is_deterministic(fmt):
    assert render(shop_plan(), fmt) == render(shop_plan(), fmt)


def test_the_outputs_say_what_the_backend_must_do_for_the_decisions_to_bind():
    plan = shop_plan()
    outputs = json.loads(render(plan, "cloudformation"))["Outputs"]
    assert outputs["Enforcement"]["Value"] == "backend"
    assert "gqlgov_verify.lambda_guard" in outputs["BackendRequirement"]["Value"]
    terraform = json.loads(render(plan, "terraform"))["output"]
    assert terraform["enforcement"]["value"] == "backend"
    assert "X-Gqlgov-Decision" in terraform["backend_requirement"]["value"]
    assert json.loads(render(plan, "openapi"))["x-gqlgov-enforcement"]["mode"] == "backend"
    advisory = json.loads(render(shop_plan(enforcement="none"), "cloudformation"))["Outputs"]
    assert advisory["Enforcement"]["Value"] == "none" and "BackendRequirement" not in advisory


def test_cloudformation_carries_the_authorizer_its_function_and_the_invoke_permissions():
    template = json.loads(render(authorizer_plan(), "cloudformation"))
    resources = template["Resources"]
    authorizer = resources["DecisionAuthorizer"]["Properties"]
    assert authorizer["IdentitySource"] == "method.request.header.X-Gqlgov-Decision"
    assert (
        authorizer["AuthorizerResultTtlInSeconds"] == 0
        and "DecisionFunction.Arn" in authorizer["AuthorizerUri"]["Fn::Sub"]
    )
    function = resources["DecisionFunction"]["Properties"]
    assert (function["Runtime"], function["Handler"]) == ("python3.11", "gqlgov_verify.authorizer.handler")
    assert {
        "AuthorizerCodeS3Bucket",
        "AuthorizerCodeS3Key",
        "AuthorizerFunctionName",
        "AuthorizerRoleArn",
        "GqlgovJwksUrl",
        "GqlgovIssuer",
    } <= set(template["Parameters"])
    assert template["Parameters"]["GqlgovIssuer"]["Default"] == "https://gqlgov.example.com"
    methods = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::ApiGateway::Method"]
    assert all(
        m["AuthorizationType"] == "CUSTOM" and m["AuthorizerId"] == {"Ref": "DecisionAuthorizer"} for m in methods
    )
    permissions = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::Lambda::Permission"]
    assert len(permissions) == 2
    for permission in permissions:
        assert permission["Principal"] == "apigateway.amazonaws.com"
        assert permission["SourceArn"] == {
            "Fn::Sub": "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${RestApi}/*"
        }
    assert sorted(p["FunctionName"]["Ref"] for p in permissions) == ["BackendLambdaArn", "DecisionFunction"]


def test_an_authorizer_given_by_arn_is_a_parameter_of_both_formats():
    plan = shop_plan(**VARIANTS["decision authorizer given by ARN, HTTP backend"])
    template = json.loads(render(plan, "cloudformation"))
    assert template["Parameters"]["AuthorizerLambdaArn"]["Default"] == AUTHORIZER_ARN
    resolved = resolve(template, cfn_values(template, AuthorizerLambdaArn=OTHER_LAMBDA))
    assert resolved["Resources"]["DecisionAuthorizer"]["Properties"]["AuthorizerUri"].endswith(
        f"/functions/{OTHER_LAMBDA}/invocations"
    )
    [permission] = of_type(resolved, "AWS::Lambda::Permission")
    assert permission["Properties"]["FunctionName"] == OTHER_LAMBDA
    document = json.loads(render(plan, "terraform"))
    resolved = resolve(document, tf_values(document, authorizer_lambda_arn=OTHER_LAMBDA))
    assert resolved["resource"]["aws_lambda_permission"]["authorizer"]["function_name"] == OTHER_LAMBDA


def test_terraform_carries_the_authorizer_its_function_and_the_invoke_permissions():
    plan = authorizer_plan()
    resource = json.loads(render(plan, "terraform"))["resource"]
    authorizer = resource["aws_api_gateway_authorizer"]["decision"]
    assert authorizer["authorizer_uri"] == "${aws_lambda_function.authorizer.invoke_arn}"
    assert authorizer["authorizer_result_ttl_in_seconds"] == 0
    function = resource["aws_lambda_function"]["authorizer"]
    assert function["source_code_hash"] == plan["lambda"]["function"]["code"]["sha256"]
    assert all(m["authorization"] == "CUSTOM" for m in resource["aws_api_gateway_method"].values())
    permissions = resource["aws_lambda_permission"]
    assert set(permissions) == {"backend", "authorizer"}
    assert permissions["authorizer"]["function_name"] == "${aws_lambda_function.authorizer.function_name}"
    assert {p["source_arn"] for p in permissions.values()} == {"${aws_api_gateway_rest_api.gqlgov.execution_arn}/*"}
    backend = json.loads(render(shop_plan(), "terraform"))["resource"]
    assert list(backend["aws_lambda_permission"]) == ["backend"] and "aws_api_gateway_authorizer" not in backend


def test_openapi_describes_the_decision_authorizer():
    document = json.loads(render(authorizer_plan(), "openapi"))
    scheme = document["components"]["securitySchemes"]["gqlgov-decision"]
    assert scheme["name"] == "X-Gqlgov-Decision" and scheme["x-amazon-apigateway-authtype"] == "custom"
    assert scheme["x-amazon-apigateway-authorizer"]["authorizerResultTtlInSeconds"] == 0
    assert "sigv4" not in document["components"]["securitySchemes"]
    assert {"gqlgov-decision": [], "api_key": []} in document["paths"]["/graphql"]["post"]["security"]
