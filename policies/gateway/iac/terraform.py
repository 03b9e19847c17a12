"""The plan as a Terraform document in JSON syntax (``.tf.json``), one function per API Gateway
resource kind. What differs between environments is a variable (iac/parameters.py) defaulting to
the plan's value."""

from __future__ import annotations

import json
from typing import Any

from policies.gateway.iac.names import logical, path_part, route_id
from policies.gateway.iac.parameters import (
    AUTHORIZER_URI,
    LAMBDA_URI,
    Parameter,
    Refs,
    named_after_api,
    parameters,
    policy_with,
    terraform_refs,
)
from policies.gateway.plan import GRAPHQL_PATH, HTTP_METHOD, api_description
from policies.gateway.stage_settings import ALL_METHODS

API = "${aws_api_gateway_rest_api.gqlgov.id}"
# Resource kinds in the order they are written; kinds the plan leaves empty are left out.
KINDS = (
    "aws_api_gateway_rest_api",
    "aws_api_gateway_model",
    "aws_api_gateway_request_validator",
    "aws_lambda_function",
    "aws_api_gateway_authorizer",
    "aws_api_gateway_resource",
    "aws_api_gateway_method",
    "aws_api_gateway_integration",
    "aws_lambda_permission",
    "aws_api_gateway_gateway_response",
    "aws_api_gateway_usage_plan",
    "aws_api_gateway_api_key",
    "aws_api_gateway_usage_plan_key",
    "aws_api_gateway_deployment",
    "aws_api_gateway_stage",
    "aws_api_gateway_method_settings",
    "aws_cloudwatch_log_group",
    "aws_api_gateway_account",
)
Resources = dict[str, dict[str, Any]]


def terraform(plan: dict[str, Any]) -> dict[str, Any]:
    params = parameters(plan)
    refs = terraform_refs(params)
    resources: Resources = {kind: {} for kind in KINDS}
    resources["aws_api_gateway_rest_api"]["gqlgov"] = _rest_api(plan, refs)
    resources["aws_api_gateway_model"]["request"] = _model(plan)
    resources["aws_api_gateway_request_validator"]["body"] = _validator(plan)
    _enforcement(resources, plan, refs)
    depends_on = [_route(resources, plan, route, refs) for route in plan["routes"]]
    depends_on += _gateway_responses(resources, plan)
    resources["aws_api_gateway_deployment"]["gqlgov"] = _deployment(plan, depends_on)
    resources["aws_api_gateway_stage"]["gqlgov"] = _stage(plan, refs)
    _logging(resources, plan, refs)
    for usage_plan in plan["usage_plans"]:
        _usage_plan(resources, plan, usage_plan, refs)
    return {
        "terraform": {"required_providers": {"aws": {"source": "hashicorp/aws", "version": ">= 5.0"}}},
        "variable": {param.name: _variable(param) for param in params},
        "provider": {"aws": {"region": refs.ref("region")}},
        "resource": {kind: body for kind, body in resources.items() if body},
        "output": {
            "rest_api_id": {"value": API},
            "enforcement": {"value": plan["enforcement"]["mode"], "description": plan["enforcement"]["summary"]},
            **(
                {"backend_requirement": {"value": plan["enforcement"]["backend_requirement"]}}
                if plan["enforcement"]["backend_requirement"]
                else {}
            ),
        },
    }


def _variable(param: Parameter) -> dict[str, Any]:
    """A variable block; one with allowed values validates them."""
    declared: dict[str, Any] = {"type": param.kind, "description": param.description, "default": param.default}
    if param.allowed:
        values = json.dumps(list(param.allowed))
        declared["validation"] = [
            {
                "condition": f"${{contains({values}, var.{param.name})}}",
                "error_message": f"The variable {param.name} must be one of {', '.join(map(str, param.allowed))}.",
            }
        ]
    return declared


def _rest_api(plan: dict[str, Any], refs: Refs) -> dict[str, Any]:
    policy = plan["api"]["policy"]
    return {
        "name": refs.ref("api_name"),
        "description": api_description(plan),
        "api_key_source": "HEADER",
        "endpoint_configuration": {"types": ["REGIONAL"]},
        "tags": plan["tags"],
        **({"policy": json.dumps(policy_with(refs, policy, plan["stage"]["name"]), sort_keys=True)} if policy else {}),
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


def _route(resources: Resources, plan: dict[str, Any], route: dict[str, Any], refs: Refs) -> str:
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
        **({"authorizer_id": "${aws_api_gateway_authorizer.decision.id}"} if plan["authorizer"] else {}),
    }
    resources["aws_api_gateway_integration"][name] = {
        "rest_api_id": API,
        "resource_id": resource,
        "http_method": f"${{aws_api_gateway_method.{name}.http_method}}",
        "type": plan["integration"]["type"],
        "integration_http_method": plan["integration"]["httpMethod"],
        "uri": refs.sub(LAMBDA_URI) if plan["integration"]["type"] == "AWS_PROXY" else refs.ref("backend_url"),
    }
    return f"aws_api_gateway_integration.{name}"


def _gateway_responses(resources: Resources, plan: dict[str, Any]) -> list[str]:
    """Adds the gateway responses (gqlgov's error shape); their addresses."""
    addresses = []
    for response_type, response in plan.get("gateway_responses", {}).items():
        name = response_type.lower()
        body: dict[str, Any] = {
            "rest_api_id": API,
            "response_type": response_type,
            "response_templates": response["responseTemplates"],
        }
        if "statusCode" in response:
            body["status_code"] = response["statusCode"]
        resources["aws_api_gateway_gateway_response"][name] = body
        addresses.append(f"aws_api_gateway_gateway_response.{name}")
    return addresses


def _enforcement(resources: Resources, plan: dict[str, Any], refs: Refs) -> None:
    """Adds the function gqlgov deploys, the authorizer and the invoke permissions."""
    authorizer, function = plan["authorizer"], plan["lambda"]["function"]
    if function:
        resources["aws_lambda_function"]["authorizer"] = {
            "function_name": refs.ref("authorizer_function_name"),
            "description": function["description"],
            "runtime": function["runtime"],
            "handler": function["handler"],
            "role": refs.ref("authorizer_role_arn"),
            "timeout": function["timeout"],
            "memory_size": function["memory"],
            "environment": {
                "variables": {
                    "GQLGOV_JWKS_URL": refs.ref("gqlgov_jwks_url"),
                    "GQLGOV_ISSUER": refs.ref("gqlgov_issuer"),
                }
            },
            "filename": function["code"]["zip_file"],
            "source_code_hash": function["code"]["sha256"],
            "tags": plan["tags"],
        }
    if authorizer:
        resources["aws_api_gateway_authorizer"]["decision"] = {
            "rest_api_id": API,
            "name": authorizer["name"],
            "type": authorizer["type"],
            "authorizer_uri": refs.sub(AUTHORIZER_URI)
            if authorizer["function_arn"]
            else "${aws_lambda_function.authorizer.invoke_arn}",
            "identity_source": authorizer["identitySource"],
            "authorizer_result_ttl_in_seconds": authorizer["authorizerResultTtlInSeconds"],
        }
    functions = {"backend": "backend_lambda_arn", "authorizer": "authorizer_lambda_arn"}
    for permission in plan["lambda"]["permissions"]:
        deployed = function is not None and permission["role"] == "authorizer"
        resources["aws_lambda_permission"][permission["role"]] = {
            "statement_id": refs.sub(named_after_api(permission["statement_id"], plan["api"]["name"])),
            "action": permission["action"],
            "function_name": "${aws_lambda_function.authorizer.function_name}"
            if deployed
            else refs.ref(functions[permission["role"]]),
            "principal": permission["principal"],
            "source_arn": "${aws_api_gateway_rest_api.gqlgov.execution_arn}/*",
        }


def _deployment(plan: dict[str, Any], depends_on: list[str]) -> dict[str, Any]:
    return {
        "rest_api_id": API,
        "description": f"gqlgov policy v{plan['policy_version']}",
        "triggers": {"plan_hash": plan["stage"]["variables"]["gqlgov_plan_hash"]},
        "lifecycle": {"create_before_destroy": True},
        "depends_on": depends_on,
    }


def _stage(plan: dict[str, Any], refs: Refs) -> dict[str, Any]:
    stage: dict[str, Any] = {
        "rest_api_id": API,
        "deployment_id": "${aws_api_gateway_deployment.gqlgov.id}",
        "stage_name": refs.ref("stage"),
        "variables": plan["stage"]["variables"],
        "tags": plan["tags"],
    }
    logging = plan["stage"].get("logging") or {}
    if logging.get("access_log"):
        stage["access_log_settings"] = {
            "destination_arn": "${aws_cloudwatch_log_group.access.arn}",
            "format": logging["access_log"]["format"],
        }
    if logging.get("cloudwatch_role_arn"):
        stage["depends_on"] = ["aws_api_gateway_account.gqlgov"]
    return stage


def _logging(resources: Resources, plan: dict[str, Any], refs: Refs) -> None:
    """Adds the access log group, the stage's method settings and, when the target names one,
    the account's CloudWatch role."""
    logging = plan["stage"].get("logging")
    if not logging:
        return
    if logging["access_log"]:
        retention = logging["access_log"]["retention_days"]
        resources["aws_cloudwatch_log_group"]["access"] = {
            "name": refs.ref("access_log_group_name"),
            "retention_in_days": refs.ref("access_log_retention_days") if retention else 0,
            "tags": plan["tags"],
        }
    resources["aws_api_gateway_method_settings"]["all"] = {
        "rest_api_id": API,
        "stage_name": "${aws_api_gateway_stage.gqlgov.stage_name}",
        "method_path": ALL_METHODS,
        "settings": {
            "logging_level": refs.ref("execution_log_level"),
            "metrics_enabled": refs.ref("detailed_metrics"),
            "data_trace_enabled": False,
        },
    }
    if logging["cloudwatch_role_arn"]:
        resources["aws_api_gateway_account"]["gqlgov"] = {"cloudwatch_role_arn": refs.ref("cloudwatch_role_arn")}


def _usage_plan(resources: Resources, plan: dict[str, Any], usage_plan: dict[str, Any], refs: Refs) -> None:
    """Adds the agent's usage plan, its API key and the key's membership of the plan."""
    name = logical("agent", usage_plan["agent"]).lower()
    api_stage: dict[str, Any] = {"api_id": API, "stage": "${aws_api_gateway_stage.gqlgov.stage_name}"}
    if usage_plan["method_throttles"]:
        api_stage["throttle"] = [
            {"path": path, "rate_limit": t["rateLimit"], "burst_limit": t["burstLimit"]}
            for path, t in sorted(usage_plan["method_throttles"].items())
        ]
    body: dict[str, Any] = {
        "name": refs.sub(named_after_api(usage_plan["name"], plan["api"]["name"])),
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
        "name": refs.sub(named_after_api(usage_plan["api_key"]["name"], plan["api"]["name"])),
        "enabled": True,
        "description": usage_plan["api_key"]["description"],
        "tags": plan["tags"],
    }
    resources["aws_api_gateway_usage_plan_key"][name] = {
        "key_id": f"${{aws_api_gateway_api_key.{name}.id}}",
        "key_type": "API_KEY",
        "usage_plan_id": f"${{aws_api_gateway_usage_plan.{name}.id}}",
    }
