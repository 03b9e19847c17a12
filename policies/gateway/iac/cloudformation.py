"""The plan as a CloudFormation template (JSON), one function per API Gateway resource kind."""

from __future__ import annotations

from typing import Any

from policies.gateway.iac.names import logical, path_part, route_id, tags_list
from policies.gateway.plan import GRAPHQL_PATH, HTTP_METHOD, api_description, plan_hash

Resources = dict[str, Any]


def ref(logical_id: str) -> dict[str, str]:
    return {"Ref": logical_id}


def resource(kind: str, properties: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """An AWS::ApiGateway::<kind> resource (`extra`: DependsOn and the like)."""
    return {"Type": f"AWS::ApiGateway::{kind}", **extra, "Properties": properties}


def api_part(kind: str, properties: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A resource of the REST API (its RestApiId first)."""
    return resource(kind, {"RestApiId": ref("RestApi"), **properties}, **extra)


def cloudformation(plan: dict[str, Any]) -> dict[str, Any]:
    resources: Resources = {
        "RestApi": _rest_api(plan),
        "RequestModel": _model(plan),
        "BodyValidator": _validator(plan),
    }
    method_ids = [_route(resources, plan, route) for route in plan["routes"]]
    # A new logical id per plan makes CloudFormation create a new deployment when the plan changes.
    deployment_id = f"Deployment{plan['stage']['variables']['gqlgov_plan_hash'][:10]}"
    resources[deployment_id] = _deployment(plan, method_ids)
    resources["Stage"] = _stage(plan, deployment_id)
    for usage_plan in plan["usage_plans"]:
        _usage_plan(resources, plan, usage_plan)
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"gqlgov export of {plan['schema']['name']} policy v{plan['policy_version']} "
        f"to {plan['target']['name']} (plan {plan_hash(plan)[:16]})",
        "Resources": resources,
        "Outputs": {"RestApiId": {"Value": ref("RestApi")}, "StageName": {"Value": ref("Stage")}},
    }


def _rest_api(plan: dict[str, Any]) -> dict[str, Any]:
    props: dict[str, Any] = {
        "Name": plan["api"]["name"],
        "Description": api_description(plan),
        "ApiKeySourceType": "HEADER",
        "EndpointConfiguration": {"Types": ["REGIONAL"]},
        "Tags": tags_list(plan["tags"]),
    }
    if plan["api"]["policy"]:
        props["Policy"] = plan["api"]["policy"]
    return resource("RestApi", props)


def _model(plan: dict[str, Any]) -> dict[str, Any]:
    model = plan["model"]
    return api_part("Model", {"Name": model["name"], "ContentType": model["contentType"], "Schema": model["schema"]})


def _validator(plan: dict[str, Any]) -> dict[str, Any]:
    validator = plan["validator"]
    return api_part(
        "RequestValidator",
        {
            "Name": validator["name"],
            "ValidateRequestBody": validator["validateRequestBody"],
            "ValidateRequestParameters": validator["validateRequestParameters"],
        },
    )


def _route(resources: Resources, plan: dict[str, Any], route: dict[str, Any]) -> str:
    """Adds the route's resource and its POST method (with the integration); the method's id."""
    path = route["path"]
    parent = {"Fn::GetAtt": ["RestApi", "RootResourceId"]} if path == GRAPHQL_PATH else ref("GraphqlResource")
    resource_id = route_id(path)
    resources[resource_id] = api_part("Resource", {"ParentId": parent, "PathPart": path_part(path)})
    method_id = f"{resource_id}Post"
    method, integration = plan["method"], plan["integration"]
    resources[method_id] = api_part(
        "Method",
        {
            "ResourceId": ref(resource_id),
            "HttpMethod": HTTP_METHOD,
            "AuthorizationType": method["authorizationType"],
            "ApiKeyRequired": method["apiKeyRequired"],
            "RequestValidatorId": ref("BodyValidator"),
            "RequestModels": method["requestModels"],
            "OperationName": route["operation"] or "graphql",
            "Integration": {
                "Type": integration["type"],
                "IntegrationHttpMethod": integration["httpMethod"],
                "Uri": integration["uri"],
            },
        },
        DependsOn=["RequestModel"],
    )
    return method_id


def _deployment(plan: dict[str, Any], method_ids: list[str]) -> dict[str, Any]:
    return api_part(
        "Deployment",
        {"Description": f"gqlgov policy v{plan['policy_version']}"},
        DependsOn=method_ids,
    )


def _stage(plan: dict[str, Any], deployment_id: str) -> dict[str, Any]:
    return api_part(
        "Stage",
        {
            "DeploymentId": ref(deployment_id),
            "StageName": plan["stage"]["name"],
            "Variables": plan["stage"]["variables"],
            "Tags": tags_list(plan["tags"]),
        },
    )


def _usage_plan(resources: Resources, plan: dict[str, Any], usage_plan: dict[str, Any]) -> None:
    """Adds the agent's usage plan, its API key and the key's membership of the plan."""
    plan_id = logical("UsagePlan", usage_plan["agent"])
    key_id = logical("ApiKey", usage_plan["agent"])
    stage: dict[str, Any] = {"ApiId": ref("RestApi"), "Stage": ref("Stage")}
    if usage_plan["method_throttles"]:
        stage["Throttle"] = {
            path: {"RateLimit": t["rateLimit"], "BurstLimit": t["burstLimit"]}
            for path, t in usage_plan["method_throttles"].items()
        }
    props: dict[str, Any] = {
        "UsagePlanName": usage_plan["name"],
        "Description": usage_plan["description"],
        "ApiStages": [stage],
        "Tags": tags_list(plan["tags"]),
    }
    if usage_plan["throttle"]:
        props["Throttle"] = {
            "RateLimit": usage_plan["throttle"]["rateLimit"],
            "BurstLimit": usage_plan["throttle"]["burstLimit"],
        }
    if usage_plan["quota"]:
        quota = usage_plan["quota"]
        props["Quota"] = {"Limit": quota["limit"], "Period": quota["period"], "Offset": quota["offset"]}
    resources[plan_id] = resource("UsagePlan", props)
    resources[key_id] = resource(
        "ApiKey",
        {
            "Name": usage_plan["api_key"]["name"],
            "Description": usage_plan["api_key"]["description"],
            "Enabled": True,
            "Tags": tags_list(plan["tags"]),
        },
    )
    resources[f"{plan_id}Key"] = resource(
        "UsagePlanKey", {"KeyId": ref(key_id), "KeyType": "API_KEY", "UsagePlanId": ref(plan_id)}
    )
