"""Infrastructure as code: the same plan the applier uses, rendered as a CloudFormation template,
a Terraform ``.tf.json``, an OpenAPI 3 document with the ``x-amazon-apigateway-*`` extensions,
or the plan itself as JSON. Pure: a plan dict in, text out.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from typing import Any

from policies.gateway.plan import GRAPHQL_PATH, HTTP_METHOD, plan_hash


def _logical(prefix: str, text: str) -> str:
    """A CloudFormation logical id / Terraform name: alphanumeric, unique per text."""
    cleaned = re.sub(r"[^A-Za-z0-9]", "", text.title())[:60]
    return f"{prefix}{cleaned}{hashlib.sha256(text.encode()).hexdigest()[:6]}"


def _route_id(path: str) -> str:
    return "GraphqlResource" if path == GRAPHQL_PATH else _logical("Route", path.rsplit("/", 1)[1])


def _tags_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in sorted(tags.items())]


def _description(plan: dict[str, Any]) -> str:
    return f"Managed by gqlgov: schema {plan['schema']['name']}, target {plan['target']['name']}"


# --- CloudFormation ------------------------------------------------------------------------


def cloudformation(plan: dict[str, Any]) -> dict[str, Any]:
    tags = plan["tags"]
    resources: dict[str, Any] = {}
    api_props: dict[str, Any] = {
        "Name": plan["api"]["name"],
        "Description": _description(plan),
        "ApiKeySourceType": "HEADER",
        "EndpointConfiguration": {"Types": ["REGIONAL"]},
        "Tags": _tags_list(tags),
    }
    if plan["api"]["policy"]:
        api_props["Policy"] = plan["api"]["policy"]
    resources["RestApi"] = {"Type": "AWS::ApiGateway::RestApi", "Properties": api_props}
    resources["RequestModel"] = {
        "Type": "AWS::ApiGateway::Model",
        "Properties": {
            "RestApiId": {"Ref": "RestApi"},
            "Name": plan["model"]["name"],
            "ContentType": plan["model"]["contentType"],
            "Schema": plan["model"]["schema"],
        },
    }
    resources["BodyValidator"] = {
        "Type": "AWS::ApiGateway::RequestValidator",
        "Properties": {
            "RestApiId": {"Ref": "RestApi"},
            "Name": plan["validator"]["name"],
            "ValidateRequestBody": plan["validator"]["validateRequestBody"],
            "ValidateRequestParameters": plan["validator"]["validateRequestParameters"],
        },
    }
    method_ids = []
    for route in plan["routes"]:
        path = route["path"]
        parent = {"Fn::GetAtt": ["RestApi", "RootResourceId"]} if path == GRAPHQL_PATH else {"Ref": "GraphqlResource"}
        resource_id = _route_id(path)
        resources[resource_id] = {
            "Type": "AWS::ApiGateway::Resource",
            "Properties": {
                "RestApiId": {"Ref": "RestApi"},
                "ParentId": parent,
                "PathPart": path.rsplit("/", 1)[1],
            },
        }
        method_id = f"{resource_id}Post"
        method_ids.append(method_id)
        resources[method_id] = {
            "Type": "AWS::ApiGateway::Method",
            "DependsOn": ["RequestModel"],
            "Properties": {
                "RestApiId": {"Ref": "RestApi"},
                "ResourceId": {"Ref": resource_id},
                "HttpMethod": HTTP_METHOD,
                "AuthorizationType": plan["method"]["authorizationType"],
                "ApiKeyRequired": plan["method"]["apiKeyRequired"],
                "RequestValidatorId": {"Ref": "BodyValidator"},
                "RequestModels": plan["method"]["requestModels"],
                "OperationName": route["operation"] or "graphql",
                "Integration": {
                    "Type": plan["integration"]["type"],
                    "IntegrationHttpMethod": plan["integration"]["httpMethod"],
                    "Uri": plan["integration"]["uri"],
                },
            },
        }
    # A new logical id per plan makes CloudFormation create a new deployment when the plan changes.
    deployment_id = f"Deployment{plan['stage']['variables']['gqlgov_plan_hash'][:10]}"
    resources[deployment_id] = {
        "Type": "AWS::ApiGateway::Deployment",
        "DependsOn": method_ids,
        "Properties": {
            "RestApiId": {"Ref": "RestApi"},
            "Description": f"gqlgov policy v{plan['policy_version']}",
        },
    }
    resources["Stage"] = {
        "Type": "AWS::ApiGateway::Stage",
        "Properties": {
            "RestApiId": {"Ref": "RestApi"},
            "DeploymentId": {"Ref": deployment_id},
            "StageName": plan["stage"]["name"],
            "Variables": plan["stage"]["variables"],
            "Tags": _tags_list(tags),
        },
    }
    for usage_plan in plan["usage_plans"]:
        plan_id = _logical("UsagePlan", usage_plan["agent"])
        key_id = _logical("ApiKey", usage_plan["agent"])
        stage: dict[str, Any] = {"ApiId": {"Ref": "RestApi"}, "Stage": {"Ref": "Stage"}}
        if usage_plan["method_throttles"]:
            stage["Throttle"] = {
                path: {"RateLimit": t["rateLimit"], "BurstLimit": t["burstLimit"]}
                for path, t in usage_plan["method_throttles"].items()
            }
        props: dict[str, Any] = {
            "UsagePlanName": usage_plan["name"],
            "Description": usage_plan["description"],
            "ApiStages": [stage],
            "Tags": _tags_list(tags),
        }
        if usage_plan["throttle"]:
            props["Throttle"] = {
                "RateLimit": usage_plan["throttle"]["rateLimit"],
                "BurstLimit": usage_plan["throttle"]["burstLimit"],
            }
        if usage_plan["quota"]:
            props["Quota"] = {
                "Limit": usage_plan["quota"]["limit"],
                "Period": usage_plan["quota"]["period"],
                "Offset": usage_plan["quota"]["offset"],
            }
        resources[plan_id] = {"Type": "AWS::ApiGateway::UsagePlan", "Properties": props}
        resources[key_id] = {
            "Type": "AWS::ApiGateway::ApiKey",
            "Properties": {
                "Name": usage_plan["api_key"]["name"],
                "Description": usage_plan["api_key"]["description"],
                "Enabled": True,
                "Tags": _tags_list(tags),
            },
        }
        resources[f"{plan_id}Key"] = {
            "Type": "AWS::ApiGateway::UsagePlanKey",
            "Properties": {
                "KeyId": {"Ref": key_id},
                "KeyType": "API_KEY",
                "UsagePlanId": {"Ref": plan_id},
            },
        }
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"gqlgov export of {plan['schema']['name']} policy v{plan['policy_version']} "
        f"to {plan['target']['name']} (plan {plan_hash(plan)[:16]})",
        "Resources": resources,
        "Outputs": {"RestApiId": {"Value": {"Ref": "RestApi"}}, "StageName": {"Value": {"Ref": "Stage"}}},
    }


# --- Terraform (JSON syntax) -----------------------------------------------------------------------


def terraform(plan: dict[str, Any]) -> dict[str, Any]:
    tags = plan["tags"]
    api_ref = "${aws_api_gateway_rest_api.gqlgov.id}"
    resources: dict[str, dict[str, Any]] = {
        "aws_api_gateway_rest_api": {
            "gqlgov": {
                "name": plan["api"]["name"],
                "description": _description(plan),
                "api_key_source": "HEADER",
                "endpoint_configuration": {"types": ["REGIONAL"]},
                "tags": tags,
                **({"policy": json.dumps(plan["api"]["policy"], sort_keys=True)} if plan["api"]["policy"] else {}),
            }
        },
        "aws_api_gateway_model": {
            "request": {
                "rest_api_id": api_ref,
                "name": plan["model"]["name"],
                "content_type": plan["model"]["contentType"],
                "schema": json.dumps(plan["model"]["schema"], sort_keys=True),
            }
        },
        "aws_api_gateway_request_validator": {
            "body": {
                "rest_api_id": api_ref,
                "name": plan["validator"]["name"],
                "validate_request_body": plan["validator"]["validateRequestBody"],
                "validate_request_parameters": plan["validator"]["validateRequestParameters"],
            }
        },
        "aws_api_gateway_resource": {},
        "aws_api_gateway_method": {},
        "aws_api_gateway_integration": {},
        "aws_api_gateway_usage_plan": {},
        "aws_api_gateway_api_key": {},
        "aws_api_gateway_usage_plan_key": {},
    }
    integrations = []
    for route in plan["routes"]:
        path = route["path"]
        name = _route_id(path).lower()
        parent = (
            "${aws_api_gateway_rest_api.gqlgov.root_resource_id}"
            if path == GRAPHQL_PATH
            else "${aws_api_gateway_resource.graphqlresource.id}"
        )
        resources["aws_api_gateway_resource"][name] = {
            "rest_api_id": api_ref,
            "parent_id": parent,
            "path_part": path.rsplit("/", 1)[1],
        }
        resources["aws_api_gateway_method"][name] = {
            "rest_api_id": api_ref,
            "resource_id": f"${{aws_api_gateway_resource.{name}.id}}",
            "http_method": HTTP_METHOD,
            "authorization": plan["method"]["authorizationType"],
            "api_key_required": plan["method"]["apiKeyRequired"],
            "request_validator_id": "${aws_api_gateway_request_validator.body.id}",
            "request_models": {"application/json": "${aws_api_gateway_model.request.name}"},
            "operation_name": route["operation"] or "graphql",
        }
        resources["aws_api_gateway_integration"][name] = {
            "rest_api_id": api_ref,
            "resource_id": f"${{aws_api_gateway_resource.{name}.id}}",
            "http_method": f"${{aws_api_gateway_method.{name}.http_method}}",
            "type": plan["integration"]["type"],
            "integration_http_method": plan["integration"]["httpMethod"],
            "uri": plan["integration"]["uri"],
        }
        integrations.append(f"aws_api_gateway_integration.{name}")
    resources["aws_api_gateway_deployment"] = {
        "gqlgov": {
            "rest_api_id": api_ref,
            "description": f"gqlgov policy v{plan['policy_version']}",
            "triggers": {"plan_hash": plan["stage"]["variables"]["gqlgov_plan_hash"]},
            "lifecycle": {"create_before_destroy": True},
            "depends_on": integrations,
        }
    }
    resources["aws_api_gateway_stage"] = {
        "gqlgov": {
            "rest_api_id": api_ref,
            "deployment_id": "${aws_api_gateway_deployment.gqlgov.id}",
            "stage_name": plan["stage"]["name"],
            "variables": plan["stage"]["variables"],
            "tags": tags,
        }
    }
    for usage_plan in plan["usage_plans"]:
        name = _logical("agent", usage_plan["agent"]).lower()
        api_stage: dict[str, Any] = {"api_id": api_ref, "stage": "${aws_api_gateway_stage.gqlgov.stage_name}"}
        if usage_plan["method_throttles"]:
            api_stage["throttle"] = [
                {"path": path, "rate_limit": t["rateLimit"], "burst_limit": t["burstLimit"]}
                for path, t in sorted(usage_plan["method_throttles"].items())
            ]
        body: dict[str, Any] = {
            "name": usage_plan["name"],
            "description": usage_plan["description"],
            "api_stages": [api_stage],
            "tags": tags,
        }
        if usage_plan["throttle"]:
            body["throttle_settings"] = {
                "rate_limit": usage_plan["throttle"]["rateLimit"],
                "burst_limit": usage_plan["throttle"]["burstLimit"],
            }
        if usage_plan["quota"]:
            body["quota_settings"] = {
                "limit": usage_plan["quota"]["limit"],
                "period": usage_plan["quota"]["period"],
                "offset": usage_plan["quota"]["offset"],
            }
        resources["aws_api_gateway_usage_plan"][name] = body
        resources["aws_api_gateway_api_key"][name] = {
            "name": usage_plan["api_key"]["name"],
            "enabled": True,
            "description": usage_plan["api_key"]["description"],
            "tags": tags,
        }
        resources["aws_api_gateway_usage_plan_key"][name] = {
            "key_id": f"${{aws_api_gateway_api_key.{name}.id}}",
            "key_type": "API_KEY",
            "usage_plan_id": f"${{aws_api_gateway_usage_plan.{name}.id}}",
        }
    return {
        "terraform": {"required_providers": {"aws": {"source": "hashicorp/aws", "version": ">= 5.0"}}},
        "provider": {"aws": {"region": plan["target"]["region"]}},
        "resource": {kind: body for kind, body in resources.items() if body},
        "output": {"rest_api_id": {"value": api_ref}},
    }


# --- OpenAPI 3 with API Gateway extensions --------------------------------------------------------


def openapi(plan: dict[str, Any]) -> dict[str, Any]:
    security = []
    schemes: dict[str, Any] = {}
    if plan["method"]["authorizationType"] == "AWS_IAM":
        schemes["sigv4"] = {
            "type": "apiKey",
            "name": "Authorization",
            "in": "header",
            "x-amazon-apigateway-authtype": "awsSigv4",
        }
    if plan["method"]["apiKeyRequired"]:
        schemes["api_key"] = {"type": "apiKey", "name": "x-api-key", "in": "header"}
    if schemes:
        security = [{name: [] for name in schemes}]
    integration = {
        "type": plan["integration"]["type"].lower(),
        "httpMethod": plan["integration"]["httpMethod"],
        "uri": plan["integration"]["uri"],
        "passthroughBehavior": "when_no_match",
    }
    paths = {}
    for route in plan["routes"]:
        paths[route["path"]] = {
            "post": {
                "operationId": _logical("op", route["operation"] or "graphql"),
                "summary": f"GraphQL {route['operation'] or 'documents'}",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": f"#/components/schemas/{plan['model']['name']}"}}
                    },
                },
                "responses": {"200": {"description": "The GraphQL response"}},
                "security": security,
                "x-amazon-apigateway-request-validator": plan["validator"]["name"],
                "x-amazon-apigateway-integration": integration,
            }
        }
    model_schema = {k: v for k, v in plan["model"]["schema"].items() if k not in ("$schema", "title")}
    document: dict[str, Any] = {
        "openapi": "3.0.1",
        "info": {
            "title": plan["api"]["name"],
            "description": _description(plan),
            "version": f"policy-v{plan['policy_version']}",
        },
        "paths": paths,
        "components": {"schemas": {plan["model"]["name"]: model_schema}, "securitySchemes": schemes},
        "x-amazon-apigateway-api-key-source": "HEADER",
        "x-amazon-apigateway-request-validators": {
            plan["validator"]["name"]: {
                "validateRequestBody": plan["validator"]["validateRequestBody"],
                "validateRequestParameters": plan["validator"]["validateRequestParameters"],
            }
        },
        "x-amazon-apigateway-tag-value": plan["tags"],
        # Usage plans and API keys are not part of an API definition in API Gateway; carried along.
        "x-gqlgov-stage": plan["stage"],
        "x-gqlgov-usage-plans": plan["usage_plans"],
    }
    if plan["api"]["policy"]:
        document["x-amazon-apigateway-policy"] = plan["api"]["policy"]
    return document


FORMATS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "cloudformation": cloudformation,
    "terraform": terraform,
    "openapi": openapi,
    "json": lambda plan: plan,
}


def render(plan: dict[str, Any], fmt: str) -> str:
    """The plan in the given format, as indented JSON text (CloudFormation accepts JSON)."""
    return json.dumps(FORMATS[fmt](plan), indent=2, sort_keys=False) + "\n"
