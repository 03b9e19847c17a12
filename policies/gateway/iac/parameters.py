"""What differs between environments, declared once for both IaC formats: CloudFormation
``Parameters`` and Terraform ``variable`` blocks, each defaulting to the plan's value, so one
template serves every stage, region and backend.

A renderer asks its `Refs` for a value (`ref`) or for a string built from values (`sub`, with
``{name}`` placeholders): CloudFormation answers ``Ref`` / ``Fn::Sub`` (the region is the stack's,
``AWS::Region``), Terraform ``${var.name}``. Pure: a plan in, declarations out.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from policies.gateway.stage_settings import LOG_LEVELS, RETENTION_DAYS

PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
LAMBDA_URI = "arn:{partition}:apigateway:{region}:lambda:path/2015-03-31/functions/{backend_lambda_arn}/invocations"
AUTHORIZER_URI = LAMBDA_URI.replace("{backend_lambda_arn}", "{authorizer_lambda_arn}")


@dataclass(frozen=True)
class Parameter:
    name: str  # the Terraform variable
    cfn: str  # the CloudFormation parameter, or the pseudo parameter standing for it (AWS::...)
    kind: str  # string | number | bool
    description: str
    default: Any
    allowed: tuple[Any, ...] = ()

    @property
    def pseudo(self) -> bool:
        return self.cfn.startswith("AWS::")


def lambda_arn_of(integration: dict[str, Any]) -> str:
    """The function ARN inside an AWS_PROXY integration URI."""
    return str(integration["uri"]).split("/functions/", 1)[-1].removesuffix("/invocations")


def parameters(plan: dict[str, Any]) -> list[Parameter]:
    """The plan's environment-specific values as parameters, in declaration order."""
    params = [
        Parameter("region", "AWS::Region", "string", "AWS region of the API", plan["target"]["region"]),
        Parameter("partition", "AWS::Partition", "string", "AWS partition (aws, aws-cn, aws-us-gov)", "aws"),
        Parameter("stage", "StageName", "string", "API Gateway stage", plan["stage"]["name"]),
        Parameter(
            "api_name", "ApiName", "string", "REST API name (usage plans: <api name>-<agent>)", plan["api"]["name"]
        ),
    ]
    integration = plan["integration"]
    if integration["type"] == "AWS_PROXY":
        arn = lambda_arn_of(integration)
        params.append(Parameter("backend_lambda_arn", "BackendLambdaArn", "string", "GraphQL backend Lambda", arn))
    else:
        params.append(Parameter("backend_url", "BackendUrl", "string", "GraphQL backend URL", integration["uri"]))
    return params + _authorizer_parameters(plan) + _logging_parameters(plan["stage"].get("logging") or {})


def _authorizer_parameters(plan: dict[str, Any]) -> list[Parameter]:
    """The decision authorizer's function: given by ARN, or deployed (its name, role, and what it trusts)."""
    authorizer, function = plan.get("authorizer"), (plan.get("lambda") or {}).get("function")
    if not authorizer:
        return []
    if authorizer["function_arn"]:
        arn = authorizer["function_arn"]
        return [Parameter("authorizer_lambda_arn", "AuthorizerLambdaArn", "string", "decision authorizer Lambda", arn)]
    environment = function["environment"]
    return [
        Parameter(
            "authorizer_function_name", "AuthorizerFunctionName", "string", "decision authorizer", function["name"]
        ),
        Parameter("authorizer_role_arn", "AuthorizerRoleArn", "string", "its execution role", function["role"]),
        Parameter("gqlgov_jwks_url", "GqlgovJwksUrl", "string", "gqlgov's JWKS URL", environment["GQLGOV_JWKS_URL"]),
        Parameter("gqlgov_issuer", "GqlgovIssuer", "string", "the decision tokens' iss", environment["GQLGOV_ISSUER"]),
    ]


def _logging_parameters(logging: dict[str, Any]) -> list[Parameter]:
    if not logging:
        return []
    params = []
    access_log = logging["access_log"]
    if access_log:
        group = access_log["log_group"]
        params.append(Parameter("access_log_group_name", "AccessLogGroupName", "string", "access log group", group))
        if access_log["retention_days"]:
            retention = access_log["retention_days"]
            allowed = tuple(days for days in RETENTION_DAYS if days)
            description = "days CloudWatch Logs keeps the access log"
            params.append(
                Parameter(
                    "access_log_retention_days", "AccessLogRetentionDays", "number", description, retention, allowed
                )
            )
    level = logging["execution_log_level"]
    params.append(
        Parameter("execution_log_level", "ExecutionLogLevel", "string", "execution logging", level, LOG_LEVELS)
    )
    metrics = logging["detailed_metrics"]
    params.append(Parameter("detailed_metrics", "DetailedMetrics", "bool", "per-method CloudWatch metrics", metrics))
    if logging["cloudwatch_role_arn"]:
        role = logging["cloudwatch_role_arn"]
        description = "API Gateway's CloudWatch role (account-wide)"
        params.append(Parameter("cloudwatch_role_arn", "CloudWatchRoleArn", "string", description, role))
    return params


class Refs:
    """How one format refers to the parameters: `ref(name)` for a value, `sub(text)` for a string
    with ``{name}`` placeholders."""

    def __init__(self, params: list[Parameter], ref: Callable[[Parameter], Any], sub: Callable[[str], Any]) -> None:
        self.params = {param.name: param for param in params}
        self._ref = ref
        self._sub = sub

    def ref(self, name: str) -> Any:
        return self._ref(self.params[name])

    def sub(self, text: str) -> Any:
        unknown = set(PLACEHOLDER.findall(text)) - set(self.params)
        if unknown:
            raise KeyError(f"no parameter {sorted(unknown)} for {text!r}")
        return self._sub(text) if PLACEHOLDER.search(text) else text


def cloudformation_refs(params: list[Parameter]) -> Refs:
    by_name = {param.name: param for param in params}

    def sub(text: str) -> dict[str, str]:
        return {"Fn::Sub": PLACEHOLDER.sub(lambda match: "${" + by_name[match[1]].cfn + "}", text)}

    return Refs(params, lambda param: {"Ref": param.cfn}, sub)


def terraform_refs(params: list[Parameter]) -> Refs:
    def sub(text: str) -> str:
        return PLACEHOLDER.sub(lambda match: "${var." + match[1] + "}", text)

    return Refs(params, lambda param: "${var." + param.name + "}", sub)


def stage_template(text: str, stage: str) -> str:
    """A resource-policy ARN (``execute-api:/<stage>/...``) with its stage as a placeholder."""
    prefix = f"execute-api:/{stage}/"
    return "execute-api:/{stage}/" + text[len(prefix) :] if text.startswith(prefix) else text


def named_after_api(name: str, api_name: str) -> str:
    """A usage plan's or API key's name (``<api name>-<agent>``) with the API name as a placeholder."""
    return "{api_name}" + name[len(api_name) :] if name.startswith(api_name + "-") else name


def policy_with(refs: Refs, policy: dict[str, Any], stage: str) -> dict[str, Any]:
    """The resource policy with each route ARN's stage a parameter."""
    statements = []
    for statement in policy["Statement"]:
        resources = statement["Resource"]
        listed = resources if isinstance(resources, list) else [resources]
        statements.append({**statement, "Resource": [refs.sub(stage_template(r, stage)) for r in listed]})
    return {**policy, "Statement": statements}
