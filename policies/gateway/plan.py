"""The plan builder: (policy document, operations, agents, target) -> desired API Gateway state.

Pure: plain data in, a JSON-serialisable dict out; no Django, no boto3, no I/O. The applier
(`applier.py`), the IaC renderers (`iac.py`), drift detection and plan signing all read the
same dict, so what is signed is what is applied.

The mapping (README, "API Gateway export"):
- one route per governed operation, ``POST /graphql/<operation>``, plus ``POST /graphql`` for
  whole documents; each has the backend integration, a request validator and a body model
  that requires a ``query`` string;
- how decisions are enforced (the target's mode, enforcement.py): ``AWS_IAM`` methods and a
  backend verifying the decision token, or the ``gqlgov-decision`` REQUEST authorizer on every
  method, or neither (advisory); Lambda invoke permissions for the backend and the authorizer;
- a resource policy (access.py): per active agent with an IAM role ARN, Allow
  ``execute-api:Invoke`` on the routes its rules admit (``aws:SourceIp`` from
  ``when.source_ips``), explicit Deny for its deny rules, never granting what the pre-check
  refuses; agents with identical access share one statement;
- one usage plan and API key per admitted agent: plan throttle from the request limits of
  ``defaults.rate_limits`` (per second, minute, hour), quota from the per-day ones, per-method
  throttles from the rules' request limits;
- stage variables naming the schema and policy versions and the hash of the deployable part;
- a report (report.py): per rule, what the gateway enforces and what only the pre-check decides;
- gateway responses in gqlgov's error shape, stage logging and metrics (stage_settings.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from policies.engine import rule_matches
from policies.gateway.access import Access, agent_access, resource_policy
from policies.gateway.enforcement import (
    VerifierPackage,
    authorizer_plan,
    enforcement_summary,
    invocation_uri,
    lambda_plan,
    method_authorization,
)
from policies.gateway.plan_basics import (
    ADVISORY,
    AUTHORIZER,
    GRAPHQL_PATH,
    HTTP_METHOD,
    PRE_CHECK_ONLY_CONDITIONS,
    SID_PREFIX,
    AgentInfo,
    TargetInfo,
    canonical_json,
    content_hash,
    request_limits,
    route_arn,
    route_path,
    throttle,
)
from policies.gateway.report import plan_report
from policies.gateway.stage_settings import gateway_responses, stage_logging

# Names other modules have always imported from here.
__all__ = [
    "GRAPHQL_PATH",
    "HTTP_METHOD",
    "MANAGED_BY",
    "PRE_CHECK_ONLY_CONDITIONS",
    "SID_PREFIX",
    "AgentInfo",
    "TargetInfo",
    "VerifierPackage",
    "api_description",
    "build_plan",
    "canonical_json",
    "content_hash",
    "plan_hash",
    "route_arn",
    "route_path",
    "usage_plan_name",
]
PLAN_FORMAT = 1
MODEL_NAME = "GqlgovGraphQLRequest"
VALIDATOR_NAME = "gqlgov-body"
MANAGED_BY = ("managed-by", "gqlgov")

REQUEST_BODY_SCHEMA = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "title": MODEL_NAME,
    "type": "object",
    "required": ["query"],
    "properties": {
        "query": {"type": "string", "minLength": 1},
        "operationName": {"type": ["string", "null"]},
        "variables": {"type": ["object", "null"]},
    },
}


# --- The plan ---------------------------------------------------------------------------


def build_plan(
    *,
    document: Mapping[str, Any],
    operations: Iterable[str],
    agents: Iterable[Any],
    target: Any,
    schema_name: str,
    schema_version: int,
    policy_version: int,
    verifier: VerifierPackage | None = None,
) -> dict[str, Any]:
    """The desired gateway state for one target as a JSON-serialisable dict (deterministic:
    the same inputs give the same dict and the same ``plan_hash``). `verifier`: the package an
    authorizer-mode target without an authorizer ARN deploys."""
    target_info = TargetInfo.of(target)
    stage = target_info.stage_name
    rules = [rule for rule in document.get("rules") or () if isinstance(rule, Mapping)]
    operations = list(operations)
    # Operations no rule names are denied by the pre-check; they get no route at all.
    governed_ops = sorted({op for op in operations if any(rule_matches(rule, None, op) for rule in rules)})
    agent_infos = sorted((info for info in map(AgentInfo.of, agents) if info.active), key=lambda info: info.name)
    mode = target_info.enforcement
    use_iam = target_info.auth_mode in ("iam", "both") and mode != AUTHORIZER
    use_keys = target_info.auth_mode in ("api_key", "both")

    complete = len(governed_ops) == len(set(operations))
    access = {
        info.name: agent_access(info, rules, governed_ops, complete=complete, advisory=mode == ADVISORY)
        for info in agent_infos
    }
    tags = {
        MANAGED_BY[0]: MANAGED_BY[1],
        "gqlgov:schema": schema_name,
        "gqlgov:target": target_info.name,
        "gqlgov:policy-version": str(policy_version),
    }
    routes = [{"path": GRAPHQL_PATH, "operation": None}] + [
        {"path": route_path(op), "operation": op} for op in governed_ops
    ]
    policy = resource_policy(agent_infos, access, stage) if use_iam else None
    deployable = _deployable(target_info, routes, policy, use_iam=use_iam, use_keys=use_keys)
    whole = [a.name for a in agent_infos if a.iam_role_arn and access[a.name].whole_documents] if policy else None
    plan: dict[str, Any] = {
        "format": PLAN_FORMAT,
        "schema": {"name": schema_name, "version": schema_version},
        "policy_version": policy_version,
        "target": _target_section(target_info),
        "tags": tags,
        **deployable,
        "usage_plans": _usage_plans(agent_infos, access, document, target_info, stage) if use_keys else [],
        "lambda": lambda_plan(target_info, verifier),
        "enforcement": enforcement_summary(target_info, whole),
        "stage": {
            "name": stage,
            "variables": _stage_variables(schema_name, schema_version, policy_version, deployable),
            "logging": stage_logging(target, target_info.name),
        },
        "report": plan_report(rules, agent_infos, governed_ops, mode=mode, use_iam=use_iam, use_keys=use_keys),
    }
    return plan


def _target_section(target: TargetInfo) -> dict[str, Any]:
    return {
        "name": target.name,
        "region": target.region,
        "account_id": target.account_id,
        "rest_api_id": target.rest_api_id,
        "stage": target.stage_name,
        "auth_mode": target.auth_mode,
        "enforcement": target.enforcement,
    }


def _stage_variables(
    schema_name: str, schema_version: int, policy_version: int, deployable: dict[str, Any]
) -> dict[str, str]:
    """What the stage says it serves; the hash of the deployable part tells a redeploy is due."""
    return {
        "gqlgov_schema": schema_name,
        "gqlgov_schema_version": str(schema_version),
        "gqlgov_policy_version": str(policy_version),
        "gqlgov_plan_hash": content_hash(deployable)[:32],
    }


def _deployable(
    target: TargetInfo, routes: list[dict[str, Any]], policy: dict[str, Any] | None, *, use_iam: bool, use_keys: bool
) -> dict[str, Any]:
    """The part of the plan a deployment serves (its hash is a stage variable): the API and its
    resource policy, the body model and validator, the authorizer, the routes, their method and
    integration."""
    return {
        "api": {"name": f"gqlgov-{target.name}", "policy": policy},
        "model": {"name": MODEL_NAME, "contentType": "application/json", "schema": REQUEST_BODY_SCHEMA},
        "validator": {
            "name": VALIDATOR_NAME,
            "validateRequestBody": True,
            "validateRequestParameters": False,
        },
        "authorizer": authorizer_plan(target),
        "routes": routes,
        "method": {
            "httpMethod": HTTP_METHOD,
            **method_authorization(target, use_iam=use_iam),
            "apiKeyRequired": use_keys,
            "requestModels": {"application/json": MODEL_NAME},
        },
        "integration": _integration(target),
        "gateway_responses": gateway_responses(),
    }


def plan_hash(plan: Mapping[str, Any]) -> str:
    return content_hash(plan)


def api_description(plan: Mapping[str, Any]) -> str:
    """The REST API's description: the schema and target gqlgov manages it for."""
    return f"Managed by gqlgov: schema {plan['schema']['name']}, target {plan['target']['name']}"


def _integration(target: TargetInfo) -> dict[str, Any]:
    if target.lambda_arn:
        return {"type": "AWS_PROXY", "httpMethod": "POST", "uri": invocation_uri(target.region, target.lambda_arn)}
    return {"type": "HTTP_PROXY", "httpMethod": "POST", "uri": target.http_url}


def usage_plan_name(target_name: str, agent_name: str) -> str:
    return f"gqlgov-{target_name}-{agent_name}"


def _usage_plans(
    agents: list[AgentInfo],
    access: Mapping[str, Access],
    document: Mapping[str, Any],
    target: TargetInfo,
    stage: str,
) -> list[dict[str, Any]]:
    defaults = request_limits((document.get("defaults") or {}).get("rate_limits"))
    plan_throttle = throttle(defaults)
    daily = [limit["requests"] for limit in defaults if limit["per"] == "day"]
    quota = {"limit": min(daily), "period": "DAY", "offset": 0} if daily else None
    plans = []
    for agent in agents:
        agent_access = access[agent.name]
        if not agent_access.admitted:
            continue
        method_throttles = {
            f"{route_path(op)}/{HTTP_METHOD}": limit
            for op, limit in sorted(agent_access.method_throttles.items())
            if op in agent_access.admitted
        }
        name = usage_plan_name(target.name, agent.name)
        plans.append(
            {
                "agent": agent.name,
                "name": name,
                "description": f"gqlgov: request limits of agent {agent.name}",
                "throttle": plan_throttle,
                "quota": quota,
                "method_throttles": method_throttles,
                "api_key": {"name": name, "description": f"gqlgov: API key of agent {agent.name}"},
            }
        )
    return plans
