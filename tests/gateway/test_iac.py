"""The IaC renderers: CloudFormation checked offline with cfn-lint, the others parsed."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from policies.gateway.iac import render
from tests.gateway.factories import shop_plan

CFN_LINT = Path(sys.executable).with_name("cfn-lint")


def test_the_cloudformation_template_passes_cfn_lint(tmp_path):
    template = tmp_path / "gqlgov.json"
    template.write_text(render(shop_plan(), "cloudformation"))
    result = subprocess.run(
        [str(CFN_LINT), "--regions", "us-east-1", "--", str(template)],
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
    api = template["Resources"]["RestApi"]["Properties"]
    assert api["Policy"] == plan["api"]["policy"]
    usage_plans = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::ApiGateway::UsagePlan"]
    support = next(p for p in usage_plans if p["UsagePlanName"].endswith("support-bot"))
    assert support["ApiStages"][0]["Throttle"]["/graphql/query.orders/POST"] == {
        "RateLimit": 1,
        "BurstLimit": 10,
    }


def test_the_terraform_document_parses_and_names_every_resource_kind():
    plan = shop_plan()
    document = json.loads(render(plan, "terraform"))
    resource = document["resource"]
    assert len(resource["aws_api_gateway_resource"]) == len(plan["routes"])
    assert json.loads(resource["aws_api_gateway_rest_api"]["gqlgov"]["policy"]) == plan["api"]["policy"]
    assert resource["aws_api_gateway_stage"]["gqlgov"]["variables"]["gqlgov_policy_version"] == "1"
    assert set(resource) >= {
        "aws_api_gateway_usage_plan",
        "aws_api_gateway_api_key",
        "aws_api_gateway_usage_plan_key",
        "aws_api_gateway_deployment",
        "aws_api_gateway_integration",
        "aws_api_gateway_method",
    }


def test_the_openapi_document_carries_the_api_gateway_extensions():
    plan = shop_plan()
    document = json.loads(render(plan, "openapi"))
    assert document["openapi"].startswith("3.")
    post = document["paths"]["/graphql/query.orders"]["post"]
    assert post["x-amazon-apigateway-integration"]["type"] == "aws_proxy"
    assert post["x-amazon-apigateway-request-validator"] == "gqlgov-body"
    assert document["x-amazon-apigateway-policy"] == plan["api"]["policy"]
    assert document["components"]["schemas"]["GqlgovGraphQLRequest"]["required"] == ["query"]
    assert document["components"]["securitySchemes"]["sigv4"]["x-amazon-apigateway-authtype"] == "awsSigv4"


@pytest.mark.parametrize("fmt", ["cloudformation", "terraform", "openapi", "json"])
def test_every_format_is_deterministic(fmt):
    assert render(shop_plan(), fmt) == render(shop_plan(), fmt)
