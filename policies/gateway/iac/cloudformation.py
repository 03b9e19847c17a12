"""The plan as a CloudFormation template (JSON), one function per API Gateway resource kind.
What differs between environments is a Parameter (iac/parameters.py) defaulting to the plan's value."""

from __future__ import annotations

from typing import Any

from policies.gateway.iac.names import logical, path_part, route_id, tags_list
from policies.gateway.iac.parameters import (
    AUTHORIZER_URI,
    LAMBDA_URI,
    Parameter,
    Refs,
    cloudformation_refs,
    named_after_api,
    parameters,
    policy_with,
)
from policies.gateway.plan import GRAPHQL_PATH, HTTP_METHOD, api_description, plan_hash
from policies.gateway.stage_settings import CONTENT_TYPE

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
    params = parameters(plan)
    refs = cloudformation_refs(params)
    resources: Resources = {
        "RestApi": _rest_api(plan, refs),
        "RequestModel": _model(plan),
        "BodyValidator": _validator(plan),
    }
    code_parameters = _enforcement(resources, plan, refs)
    method_ids = [_route(resources, plan, route, refs) for route in plan["routes"]]
    response_ids = _gateway_responses(resources, plan)
    # A new logical id per plan makes CloudFormation create a new deployment when the plan changes.
    deployment_id = f"Deployment{plan['stage']['variables']['gqlgov_plan_hash'][:10]}"
    resources[deployment_id] = _deployment(plan, method_ids + response_ids)
    resources["Stage"] = _stage(plan, deployment_id, refs)
    _logging(resources, plan, refs)
    for usage_plan in plan["usage_plans"]:
        _usage_plan(resources, plan, usage_plan, refs)
    enforcement = plan["enforcement"]
    outputs: dict[str, Any] = {
        "RestApiId": {"Value": ref("RestApi")},
        "StageName": {"Value": ref("Stage")},
        "Enforcement": {"Value": enforcement["mode"], "Description": enforcement["summary"]},
    }
    if enforcement["backend_requirement"]:
        outputs["BackendRequirement"] = {
            "Value": enforcement["backend_requirement"],
            "Description": "What the GraphQL backend must do for the decisions to bind",
        }
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"gqlgov export of {plan['schema']['name']} policy v{plan['policy_version']} "
        f"to {plan['target']['name']} (plan {plan_hash(plan)[:16]})",
        "Parameters": {**{param.cfn: _parameter(param) for param in params if not param.pseudo}, **code_parameters},
        "Resources": resources,
        "Outputs": outputs,
    }


def _parameter(param: Parameter) -> dict[str, Any]:
    """A CloudFormation parameter; booleans are the strings "true" / "false"."""
    if param.kind == "bool":
        return {
            "Type": "String",
            "Description": param.description,
            "Default": str(param.default).lower(),
            "AllowedValues": ["true", "false"],
        }
    declared: dict[str, Any] = {
        "Type": "Number" if param.kind == "number" else "String",
        "Description": param.description,
        "Default": param.default,
    }
    if param.allowed:
        declared["AllowedValues"] = list(param.allowed)
    return declared


def _rest_api(plan: dict[str, Any], refs: Refs) -> dict[str, Any]:
    props: dict[str, Any] = {
        "Name": refs.ref("api_name"),
        "Description": api_description(plan),
        "ApiKeySourceType": "HEADER",
        "EndpointConfiguration": {"Types": ["REGIONAL"]},
        "Tags": tags_list(plan["tags"]),
    }
    if plan["api"]["policy"]:
        props["Policy"] = policy_with(refs, plan["api"]["policy"], plan["stage"]["name"])
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


def _route(resources: Resources, plan: dict[str, Any], route: dict[str, Any], refs: Refs) -> str:
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
            **({"AuthorizerId": ref("DecisionAuthorizer")} if plan["authorizer"] else {}),
            "ApiKeyRequired": method["apiKeyRequired"],
            "RequestValidatorId": ref("BodyValidator"),
            "RequestModels": method["requestModels"],
            "OperationName": route["operation"] or "graphql",
            "Integration": {
                "Type": integration["type"],
                "IntegrationHttpMethod": integration["httpMethod"],
                "Uri": _backend_uri(plan, refs),
            },
        },
        DependsOn=["RequestModel"],
    )
    return method_id


def _backend_uri(plan: dict[str, Any], refs: Refs) -> Any:
    if plan["integration"]["type"] == "AWS_PROXY":
        return refs.sub(LAMBDA_URI)
    return refs.ref("backend_url")


def _gateway_responses(resources: Resources, plan: dict[str, Any]) -> list[str]:
    """Adds the gateway responses (gqlgov's error shape); their logical ids."""
    ids = []
    for response_type, response in plan.get("gateway_responses", {}).items():
        response_id = logical("GatewayResponse", response_type)
        props: dict[str, Any] = {
            "ResponseType": response_type,
            "ResponseTemplates": {CONTENT_TYPE: response["responseTemplates"][CONTENT_TYPE]},
        }
        if "statusCode" in response:
            props["StatusCode"] = response["statusCode"]
        resources[response_id] = api_part("GatewayResponse", props)
        ids.append(response_id)
    return ids


def _enforcement(resources: Resources, plan: dict[str, Any], refs: Refs) -> dict[str, Any]:
    """Adds the authorizer, the function gqlgov deploys and the invoke permissions; the
    parameters naming where the function's zip was uploaded (CloudFormation's own)."""
    authorizer, function = plan["authorizer"], plan["lambda"]["function"]
    code_parameters: dict[str, Any] = {}
    if function:
        code = f"the verifier package zip (CodeSha256 {function['code']['sha256']})"
        code_parameters = {
            "AuthorizerCodeS3Bucket": {"Type": "String", "Description": f"S3 bucket holding {code}"},
            "AuthorizerCodeS3Key": {"Type": "String", "Description": f"S3 key of {code}"},
        }
        resources["DecisionFunction"] = {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "FunctionName": refs.ref("authorizer_function_name"),
                "Description": function["description"],
                "Runtime": function["runtime"],
                "Handler": function["handler"],
                "Role": refs.ref("authorizer_role_arn"),
                "Timeout": function["timeout"],
                "MemorySize": function["memory"],
                "Environment": {
                    "Variables": {
                        "GQLGOV_JWKS_URL": refs.ref("gqlgov_jwks_url"),
                        "GQLGOV_ISSUER": refs.ref("gqlgov_issuer"),
                    }
                },
                "Code": {"S3Bucket": ref("AuthorizerCodeS3Bucket"), "S3Key": ref("AuthorizerCodeS3Key")},
                "Tags": tags_list(plan["tags"]),
            },
        }
    if authorizer:
        deployed_uri = AUTHORIZER_URI.replace("{authorizer_lambda_arn}", "${DecisionFunction.Arn}")
        resources["DecisionAuthorizer"] = api_part(
            "Authorizer",
            {
                "Name": authorizer["name"],
                "Type": authorizer["type"],
                "AuthorizerUri": refs.sub(AUTHORIZER_URI if authorizer["function_arn"] else deployed_uri),
                "IdentitySource": authorizer["identitySource"],
                "AuthorizerResultTtlInSeconds": authorizer["authorizerResultTtlInSeconds"],
            },
        )
    functions = {"backend": "backend_lambda_arn", "authorizer": "authorizer_lambda_arn"}
    for permission in plan["lambda"]["permissions"]:
        deployed = function is not None and permission["role"] == "authorizer"
        resources[logical("InvokePermission", permission["role"])] = {
            "Type": "AWS::Lambda::Permission",
            "Properties": {
                "Action": permission["action"],
                "FunctionName": ref("DecisionFunction") if deployed else refs.ref(functions[permission["role"]]),
                "Principal": permission["principal"],
                # The stack's account: the API is created by it.
                "SourceArn": refs.sub("arn:{partition}:execute-api:{region}:${AWS::AccountId}:${RestApi}/*"),
            },
        }
    return code_parameters


def _deployment(plan: dict[str, Any], depends_on: list[str]) -> dict[str, Any]:
    return api_part(
        "Deployment",
        {"Description": f"gqlgov policy v{plan['policy_version']}"},
        DependsOn=depends_on,
    )


def _stage(plan: dict[str, Any], deployment_id: str, refs: Refs) -> dict[str, Any]:
    props: dict[str, Any] = {
        "DeploymentId": ref(deployment_id),
        "StageName": refs.ref("stage"),
        "Variables": plan["stage"]["variables"],
        "Tags": tags_list(plan["tags"]),
    }
    logging = plan["stage"].get("logging")
    extra: dict[str, Any] = {}
    if logging:
        if logging["access_log"]:
            props["AccessLogSetting"] = {
                "DestinationArn": {"Fn::GetAtt": ["AccessLogGroup", "Arn"]},
                "Format": logging["access_log"]["format"],
            }
        props["MethodSettings"] = [
            {
                "ResourcePath": "/*",
                "HttpMethod": "*",
                "LoggingLevel": refs.ref("execution_log_level"),
                "MetricsEnabled": refs.ref("detailed_metrics"),
                "DataTraceEnabled": False,
            }
        ]
        if logging["cloudwatch_role_arn"]:
            extra["DependsOn"] = ["ApiGatewayAccount"]
    return api_part("Stage", props, **extra)


def _logging(resources: Resources, plan: dict[str, Any], refs: Refs) -> None:
    """Adds the access log group and, when the target names one, the account's CloudWatch role."""
    logging = plan["stage"].get("logging") or {}
    if logging.get("access_log"):
        props: dict[str, Any] = {"LogGroupName": refs.ref("access_log_group_name"), "Tags": tags_list(plan["tags"])}
        if logging["access_log"]["retention_days"]:
            props["RetentionInDays"] = refs.ref("access_log_retention_days")
        # The access log outlives the stack: it is the record of who called what.
        resources["AccessLogGroup"] = {
            "Type": "AWS::Logs::LogGroup",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": props,
        }
    if logging.get("cloudwatch_role_arn"):
        resources["ApiGatewayAccount"] = resource("Account", {"CloudWatchRoleArn": refs.ref("cloudwatch_role_arn")})


def _usage_plan(resources: Resources, plan: dict[str, Any], usage_plan: dict[str, Any], refs: Refs) -> None:
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
        "UsagePlanName": refs.sub(named_after_api(usage_plan["name"], plan["api"]["name"])),
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
            "Name": refs.sub(named_after_api(usage_plan["api_key"]["name"], plan["api"]["name"])),
            "Description": usage_plan["api_key"]["description"],
            "Enabled": True,
            "Tags": tags_list(plan["tags"]),
        },
    )
    resources[f"{plan_id}Key"] = resource(
        "UsagePlanKey", {"KeyId": ref(key_id), "KeyType": "API_KEY", "UsagePlanId": ref(plan_id)}
    )
