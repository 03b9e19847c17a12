"""The plan as a Terraform document in JSON syntax (``.tf.json``), one function per API Gateway
resource kind."""

from __future__ import annotations

import json
from typing import Any

from policies.gateway.iac.names import logical, path_part, route_id
from policies.gateway.plan import GRAPHQL_PATH, HTTP_METHOD, api_description

API = "${aws_api_gateway_rest_api.gqlgov.id}"
# Resource kinds in the order they are written; kinds the plan leaves empty are left out.
KINDS = (
    "aws_api_gateway_rest_api",
    "aws_api_gateway_model",
    "aws_api_gateway_request_validator",
    "aws_api_gateway_resource",
    "aws_api_gateway_method",
    "aws_api_gateway_integration",
    "aws_api_gateway_usage_plan",
    "aws_api_gateway_api_key",
    "aws_api_gateway_usage_plan_key",
    "aws_api_gateway_deployment",
    "aws_api_gateway_stage",
)


def terraform(plan: dict[str, Any]) -> dict[str, Any]:
    resources: dict[str, dict[str, Any]] = {kind: {} for kind in KINDS}
    resources["aws_api_gateway_rest_api"]["gqlgov"] = _rest_api(plan)
    resources["aws_api_gateway_model"]["request"] = _model(plan)
    resources["aws_api_gateway_request_validator"]["body"] = _validator(plan)
    integrations = [_route(resources, plan, route) for route in plan["routes"]]
    resources["aws_api_gateway_deployment"]["gqlgov"] = _deployment(plan, integrations)
    resources["aws_api_gateway_stage"]["gqlgov"] = _stage(plan)
    for usage_plan in plan["usage_plans"]:
        _usage_plan(resources, plan, usage_plan)
    return {
        "terraform": {"required_providers": {"aws": {"source": "hashicorp/aws", "version": ">= 5.0"}}},
        "provider": {"aws": {"region": plan["target"]["region"]}},
        "resource": {kind: body for kind, body in resources.items() if body},
        "output": {"rest_api_id": {"value": API}},
    }


def _rest_api(plan: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": plan["api"]["name"],
        "description": api_description(plan),
        "api_key_source": "HEADER",
        "endpoint_configuration": {"types": ["REGIONAL"]},
        "tags": plan["tags"],
        **({"policy": json.dumps(plan["api"]["policy"], sort_keys=True)} if plan["api"]["policy"] else {}),
    }


def _model(plan: dict[str, Any]) -> dict[str, Any]:
    return {
        "rest_api_id": API,
        "name": plan["model"]["name"],
        "content_type": plan["model"]["contentType"],
        "schema": json.dumps(plan["model"]["schema"], sort_keys=True),
    }


def _validator(plan: dict[str, Any]) -> dict[str, Any]:
    return {
        "rest_api_id": API,
        "name": plan["validator"]["name"],
        "validate_request_body": plan["validator"]["validateRequestBody"],
        "validate_request_parameters": plan["validator"]["validateRequestParameters"],
    }


def _route(resources: dict[str, dict[str, Any]], plan: dict[str, Any], route: dict[str, Any]) -> str:
    """Adds the route's resource, POST method and integration; the integration's address."""
    path = route["path"]
    name = route_id(path).lower()
    parent = (
        "${aws_api_gateway_rest_api.gqlgov.root_resource_id}"
        if path == GRAPHQL_PATH
        else "${aws_api_gateway_resource.graphqlresource.id}"
    )
    resource = f"${{aws_api_gateway_resource.{name}.id}}"
    resources["aws_api_gateway_resource"][name] = {
        "rest_api_id": API,
        "parent_id": parent,
        "path_part": path_part(path),
    }
    resources["aws_api_gateway_method"][name] = {
        "rest_api_id": API,
        "resource_id": resource,
        "http_method": HTTP_METHOD,
        "authorization": plan["method"]["authorizationType"],
        "api_key_required": plan["method"]["apiKeyRequired"],
        "request_validator_id": "${aws_api_gateway_request_validator.body.id}",
        "request_models": {"application/json": "${aws_api_gateway_model.request.name}"},
        "operation_name": route["operation"] or "graphql",
    }
    resources["aws_api_gateway_integration"][name] = {
        "rest_api_id": API,
        "resource_id": resource,
        "http_method": f"${{aws_api_gateway_method.{name}.http_method}}",
        "type": plan["integration"]["type"],
        "integration_http_method": plan["integration"]["httpMethod"],
        "uri": plan["integration"]["uri"],
    }
    return f"aws_api_gateway_integration.{name}"


def _deployment(plan: dict[str, Any], integrations: list[str]) -> dict[str, Any]:
    return {
        "rest_api_id": API,
        "description": f"gqlgov policy v{plan['policy_version']}",
        "triggers": {"plan_hash": plan["stage"]["variables"]["gqlgov_plan_hash"]},
        "lifecycle": {"create_before_destroy": True},
        "depends_on": integrations,
    }


def _stage(plan: dict[str, Any]) -> dict[str, Any]:
    return {
        "rest_api_id": API,
        "deployment_id": "${aws_api_gateway_deployment.gqlgov.id}",
        "stage_name": plan["stage"]["name"],
        "variables": plan["stage"]["variables"],
        "tags": plan["tags"],
    }


def _usage_plan(resources: dict[str, dict[str, Any]], plan: dict[str, Any], usage_plan: dict[str, Any]) -> None:
    """Adds the agent's usage plan, its API key and the key's membership of the plan."""
    name = logical("agent", usage_plan["agent"]).lower()
    api_stage: dict[str, Any] = {"api_id": API, "stage": "${aws_api_gateway_stage.gqlgov.stage_name}"}
    if usage_plan["method_throttles"]:
        api_stage["throttle"] = [
            {"path": path, "rate_limit": t["rateLimit"], "burst_limit": t["burstLimit"]}
            for path, t in sorted(usage_plan["method_throttles"].items())
        ]
    body: dict[str, Any] = {
        "name": usage_plan["name"],
        "description": usage_plan["description"],
        "api_stages": [api_stage],
        "tags": plan["tags"],
    }
    if usage_plan["throttle"]:
        throttle = usage_plan["throttle"]
        body["throttle_settings"] = {"rate_limit": throttle["rateLimit"], "burst_limit": throttle["burstLimit"]}
    if usage_plan["quota"]:
        quota = usage_plan["quota"]
        body["quota_settings"] = {"limit": quota["limit"], "period": quota["period"], "offset": quota["offset"]}
    resources["aws_api_gateway_usage_plan"][name] = body
    resources["aws_api_gateway_api_key"][name] = {
        "name": usage_plan["api_key"]["name"],
        "enabled": True,
        "description": usage_plan["api_key"]["description"],
        "tags": plan["tags"],
    }
    resources["aws_api_gateway_usage_plan_key"][name] = {
        "key_id": f"${{aws_api_gateway_api_key.{name}.id}}",
        "key_type": "API_KEY",
        "usage_plan_id": f"${{aws_api_gateway_usage_plan.{name}.id}}",
    }
