"""The plan builder: (policy document, operations, agents, target) -> desired API Gateway state.

Pure: plain data in, a JSON-serialisable dict out; no Django, no boto3, no I/O. The applier
(`applier.py`), the IaC renderers (`iac.py`), drift detection and plan signing all read the
same dict, so what is signed is what is applied.

The mapping (README, "API Gateway export"):
- one route per governed operation, ``POST /graphql/<operation>``, plus ``POST /graphql`` for
  whole documents; each has the backend integration, a request validator and a body model
  that requires a ``query`` string;
- a resource policy: per active agent with an IAM role ARN, Allow ``execute-api:Invoke`` on the
  routes its allow / require_approval rules admit (``aws:SourceIp`` from ``when.source_ips``),
  explicit Deny for its deny rules; agents with identical access share one statement;
- one usage plan and API key per admitted agent: plan throttle from the request limits of
  ``defaults.rate_limits`` (per second, minute, hour), quota from the per-day ones, per-method
  throttles from the rules' request limits;
- stage variables naming the schema and policy versions and the hash of the deployable part;
- gateway responses in gqlgov's error shape, stage logging and metrics (stage_settings.py).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from policies.engine import rule_matches
from policies.engine.ratelimits import PERIOD_SECONDS
from policies.gateway.stage_settings import gateway_responses, stage_logging

PLAN_FORMAT = 1
GRAPHQL_PATH = "/graphql"
HTTP_METHOD = "POST"
MODEL_NAME = "GqlgovGraphQLRequest"
VALIDATOR_NAME = "gqlgov-body"
MANAGED_BY = ("managed-by", "gqlgov")
SID_PREFIX = "Gqlgov"
# What the gateway cannot check; each is enforced by the pre-check (POST /api/v1/check) only.
PRE_CHECK_ONLY_CONDITIONS = {"hours": "when.hours (time windows)", "expression": "when.expression (CEL)"}

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


@dataclass(frozen=True)
class AgentInfo:
    """What the plan needs to know about a principal."""

    name: str
    kind: str = "ai"
    groups: tuple[str, ...] = ()
    iam_role_arn: str = ""
    active: bool = True

    @classmethod
    def of(cls, agent: Any) -> AgentInfo:
        """Accepts an AgentInfo, a dict or any object with Principal's attribute names."""
        if isinstance(agent, AgentInfo):
            return agent
        get = agent.get if isinstance(agent, Mapping) else lambda key, default=None: getattr(agent, key, default)
        status = get("status", "active")
        return cls(
            name=str(get("name")),
            kind=str(get("kind", "") or ""),
            groups=tuple(sorted(get("groups", None) or ())),
            iam_role_arn=str(get("iam_role_arn", "") or ""),
            active=bool(get("active", status == "active")),
        )


@dataclass(frozen=True)
class TargetInfo:
    """The gateway target the plan is for (GatewayTarget's fields, as plain data)."""

    name: str
    stage_name: str
    region: str = "us-east-1"
    account_id: str = ""
    rest_api_id: str = ""
    lambda_arn: str = ""
    http_url: str = ""
    auth_mode: str = "both"  # iam | api_key | both

    @classmethod
    def of(cls, target: Any) -> TargetInfo:
        if isinstance(target, TargetInfo):
            return target
        get = target.get if isinstance(target, Mapping) else lambda key, default=None: getattr(target, key, default)
        return cls(**{name: str(get(name, "") or default) for name, default in _TARGET_DEFAULTS.items()})


_TARGET_DEFAULTS = {
    "name": "",
    "stage_name": "",
    "region": "us-east-1",
    "account_id": "",
    "rest_api_id": "",
    "lambda_arn": "",
    "http_url": "",
    "auth_mode": "both",
}


# --- Building blocks ---------------------------------------------------------------------


def route_path(operation: str | None) -> str:
    return GRAPHQL_PATH if operation is None else f"{GRAPHQL_PATH}/{operation}"


def route_arn(stage: str, path: str) -> str:
    """The resource-policy form; API Gateway expands ``execute-api:/`` to the API's ARN."""
    return f"execute-api:/{stage}/{HTTP_METHOD}{path}"


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(value: Any) -> str:
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


def _request_limits(entries: Iterable[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
    """Request limits (not cost budgets) as {rate_per_s, burst, per, requests}."""
    limits = []
    for entry in entries or ():
        if "requests" not in entry or entry.get("per") not in PERIOD_SECONDS:
            continue
        requests = int(entry["requests"])
        limits.append(
            {
                "per": entry["per"],
                "requests": requests,
                "rate_per_s": requests / PERIOD_SECONDS[entry["per"]],
                "burst": int(entry.get("burst") or requests),
            }
        )
    return limits


def _throttle(limits: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The strictest per-second throttle of the non-daily request limits; None without any."""
    shaped = [limit for limit in limits if limit["per"] != "day"]
    if not shaped:
        return None
    return {
        "rateLimit": _number(min(limit["rate_per_s"] for limit in shaped)),
        "burstLimit": min(limit["burst"] for limit in shaped),
    }


def _number(value: float) -> float | int:
    rounded = round(value, 4)
    return int(rounded) if rounded == int(rounded) else rounded


def _strictest(a: dict[str, Any] | None, b: dict[str, Any] | None) -> dict[str, Any] | None:
    if a is None or b is None:
        return a or b
    return {
        "rateLimit": min(a["rateLimit"], b["rateLimit"]),
        "burstLimit": min(a["burstLimit"], b["burstLimit"]),
    }


def _gateway_condition(rule: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(sorted((rule.get("when") or {}).get("source_ips") or ()))


def _pre_check_only(rule: Mapping[str, Any]) -> bool:
    """A condition the gateway cannot evaluate (hours, CEL)."""
    when = rule.get("when") or {}
    return any(when.get(key) for key in PRE_CHECK_ONLY_CONDITIONS)


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
) -> dict[str, Any]:
    """The desired gateway state for one target as a JSON-serialisable dict (deterministic:
    the same inputs give the same dict and the same ``plan_hash``)."""
    target_info = TargetInfo.of(target)
    stage = target_info.stage_name
    rules = [rule for rule in document.get("rules") or () if isinstance(rule, Mapping)]
    # Operations no rule names are denied by the pre-check; they get no route at all.
    governed_ops = sorted({op for op in operations if any(rule_matches(rule, None, op) for rule in rules)})
    agent_infos = sorted((info for info in map(AgentInfo.of, agents) if info.active), key=lambda info: info.name)
    use_iam = target_info.auth_mode in ("iam", "both")
    use_keys = target_info.auth_mode in ("api_key", "both")

    access = {info.name: _agent_access(info, rules, governed_ops) for info in agent_infos}
    tags = {
        MANAGED_BY[0]: MANAGED_BY[1],
        "gqlgov:schema": schema_name,
        "gqlgov:target": target_info.name,
        "gqlgov:policy-version": str(policy_version),
    }
    routes = [{"path": GRAPHQL_PATH, "operation": None}] + [
        {"path": route_path(op), "operation": op} for op in governed_ops
    ]
    all_paths = [route["path"] for route in routes]
    policy = _resource_policy(agent_infos, access, stage, all_paths, use_iam=use_iam) if use_iam else None
    deployable = _deployable(target_info, routes, policy, use_iam=use_iam, use_keys=use_keys)
    plan: dict[str, Any] = {
        "format": PLAN_FORMAT,
        "schema": {"name": schema_name, "version": schema_version},
        "policy_version": policy_version,
        "target": {
            "name": target_info.name,
            "region": target_info.region,
            "account_id": target_info.account_id,
            "rest_api_id": target_info.rest_api_id,
            "stage": stage,
            "auth_mode": target_info.auth_mode,
        },
        "tags": tags,
        **deployable,
        "usage_plans": _usage_plans(agent_infos, access, document, target_info, stage) if use_keys else [],
        "stage": {
            "name": stage,
            "variables": {
                "gqlgov_schema": schema_name,
                "gqlgov_schema_version": str(schema_version),
                "gqlgov_policy_version": str(policy_version),
                "gqlgov_plan_hash": content_hash(deployable)[:32],
            },
            "logging": stage_logging(target, target_info.name),
        },
        "report": _report(rules, agent_infos, governed_ops, use_iam=use_iam, use_keys=use_keys),
    }
    return plan


def _deployable(
    target: TargetInfo, routes: list[dict[str, Any]], policy: dict[str, Any] | None, *, use_iam: bool, use_keys: bool
) -> dict[str, Any]:
    """The part of the plan a deployment serves (its hash is a stage variable): the API and its
    resource policy, the body model and validator, the routes, their method and integration."""
    return {
        "api": {"name": f"gqlgov-{target.name}", "policy": policy},
        "model": {"name": MODEL_NAME, "contentType": "application/json", "schema": REQUEST_BODY_SCHEMA},
        "validator": {
            "name": VALIDATOR_NAME,
            "validateRequestBody": True,
            "validateRequestParameters": False,
        },
        "routes": routes,
        "method": {
            "httpMethod": HTTP_METHOD,
            "authorizationType": "AWS_IAM" if use_iam else "NONE",
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


@dataclass
class _Access:
    """One agent's admitted and denied operations, grouped by gateway condition."""

    allow: dict[tuple[str, ...], set[str]] = field(default_factory=dict)  # source_ips -> operations
    deny: dict[tuple[str, ...], set[str]] = field(default_factory=dict)
    admitted: set[str] = field(default_factory=set)
    method_throttles: dict[str, dict[str, Any]] = field(default_factory=dict)  # operation -> throttle


def _agent_access(agent: AgentInfo, rules: list[Mapping[str, Any]], operations: list[str]) -> _Access:
    access = _Access()
    for rule in rules:
        if not rule_matches(rule, agent):
            continue
        matched = {op for op in operations if rule_matches(rule, agent, op)}
        if not matched:
            continue
        effect = rule.get("effect")
        condition = _gateway_condition(rule)
        if effect in ("allow", "require_approval"):
            # Time windows and CEL cannot be checked here: the gateway admits the superset
            # and the pre-check narrows it.
            access.allow.setdefault(condition, set()).update(matched)
            access.admitted |= matched
            throttle = _throttle(_request_limits(rule.get("rate_limits")))
            if throttle:
                for op in matched:
                    access.method_throttles[op] = _strictest(access.method_throttles.get(op), throttle)
        elif effect == "deny" and not _pre_check_only(rule):
            # A deny that holds only at certain hours or under a CEL expression would deny at
            # all times here; it is left to the pre-check.
            access.deny.setdefault(condition, set()).update(matched)
    always_denied = access.deny.get((), set())
    for condition in list(access.allow):
        access.allow[condition] -= always_denied
        if not access.allow[condition]:
            del access.allow[condition]
    return access


def _resource_policy(
    agents: list[AgentInfo], access: dict[str, _Access], stage: str, all_paths: list[str], *, use_iam: bool
) -> dict[str, Any]:
    everything = sorted({route_arn(stage, GRAPHQL_PATH), route_arn(stage, GRAPHQL_PATH + "/*")})
    # (effect, source_ips, resources) -> role ARNs: agents with identical access share a statement.
    groups: dict[tuple[str, tuple[str, ...], tuple[str, ...]], set[str]] = {}
    roles = sorted({agent.iam_role_arn for agent in agents if agent.iam_role_arn and access[agent.name].admitted})
    for agent in agents:
        if not agent.iam_role_arn:
            continue
        agent_access = access[agent.name]
        for condition, ops in agent_access.allow.items():
            paths = {GRAPHQL_PATH} | {route_path(op) for op in ops}
            resources = everything if paths >= set(all_paths) else sorted(route_arn(stage, p) for p in paths)
            groups.setdefault(("Allow", condition, tuple(resources)), set()).add(agent.iam_role_arn)
        if agent.iam_role_arn not in roles:
            continue
        for condition, ops in agent_access.deny.items():
            resources = tuple(sorted(route_arn(stage, route_path(op)) for op in ops))
            groups.setdefault(("Deny", condition, resources), set()).add(agent.iam_role_arn)
    statements = []
    # Same-account roles may hold identity policies granting execute-api:Invoke broadly; this
    # denies every IAM caller that is not an agent of this policy.
    unlisted: dict[str, Any] = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "execute-api:Invoke",
        "Resource": everything,
    }
    if roles:
        unlisted["Condition"] = {"StringNotEquals": {"aws:PrincipalArn": roles}}
    statements.append({"Sid": f"{SID_PREFIX}DenyUnlisted", **unlisted})
    ordered = sorted(groups.items(), key=lambda item: (item[0][0], item[0][1], item[0][2], sorted(item[1])))
    counters = {"Allow": 0, "Deny": 0}
    for (effect, condition, resources), principals in ordered:
        counters[effect] += 1
        statement: dict[str, Any] = {
            "Sid": f"{SID_PREFIX}{effect}{counters[effect]}",
            "Effect": effect,
            "Principal": {"AWS": sorted(principals)},
            "Action": "execute-api:Invoke",
            "Resource": list(resources),
        }
        if condition:
            statement["Condition"] = {"IpAddress": {"aws:SourceIp": list(condition)}}
        statements.append(statement)
    return {"Version": "2012-10-17", "Statement": statements}


def _integration(target: TargetInfo) -> dict[str, Any]:
    if target.lambda_arn:
        uri = f"arn:aws:apigateway:{target.region}:lambda:path/2015-03-31/functions/{target.lambda_arn}/invocations"
        return {"type": "AWS_PROXY", "httpMethod": "POST", "uri": uri}
    return {"type": "HTTP_PROXY", "httpMethod": "POST", "uri": target.http_url}


def usage_plan_name(target_name: str, agent_name: str) -> str:
    return f"gqlgov-{target_name}-{agent_name}"


def _usage_plans(
    agents: list[AgentInfo],
    access: dict[str, _Access],
    document: Mapping[str, Any],
    target: TargetInfo,
    stage: str,
) -> list[dict[str, Any]]:
    defaults = _request_limits((document.get("defaults") or {}).get("rate_limits"))
    throttle = _throttle(defaults)
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
                "throttle": throttle,
                "quota": quota,
                "method_throttles": method_throttles,
                "api_key": {"name": name, "description": f"gqlgov: API key of agent {agent.name}"},
            }
        )
    return plans


def _report(
    rules: list[Mapping[str, Any]],
    agents: list[AgentInfo],
    operations: list[str],
    *,
    use_iam: bool,
    use_keys: bool,
) -> list[dict[str, Any]]:
    """Per rule: what the gateway enforces and what only the pre-check enforces."""
    report = []
    for rule in rules:
        matched_agents = [agent.name for agent in agents if rule_matches(rule, agent)]
        matched_ops = [op for op in operations if rule_matches(rule, None, op)]
        when = rule.get("when") or {}
        effect = rule.get("effect")
        with_roles = [a.name for a in agents if a.iam_role_arn and a.name in matched_agents]
        gateway, by_effect = _enforcement(rule, len(matched_ops), with_roles, use_iam=use_iam, use_keys=use_keys)
        pre_check = [PRE_CHECK_ONLY_CONDITIONS[key] for key in PRE_CHECK_ONLY_CONDITIONS if when.get(key)]
        pre_check += by_effect
        if rule.get("limits"):
            pre_check.append("limits " + ", ".join(sorted(rule["limits"])))
        if rule.get("fields"):
            pre_check.append("fields")
        without_roles = [name for name in matched_agents if name not in with_roles]
        if use_iam and without_roles and effect != "deny":
            pre_check.append("access of agents without an IAM role ARN: " + ", ".join(without_roles))
        report.append(
            {
                "rule": rule.get("id", ""),
                "effect": effect,
                "operations": matched_ops,
                "agents": matched_agents,
                "gateway": gateway,
                "pre_check_only": [*pre_check, "depth, aliases, cost and the rest of the document analysis"],
            }
        )
    return report


def _enforcement(
    rule: Mapping[str, Any], routes: int, with_roles: list[str], *, use_iam: bool, use_keys: bool
) -> tuple[list[str], list[str]]:
    """What of the rule's effect the gateway enforces, and what of it only the pre-check does."""
    when = rule.get("when") or {}
    effect = rule.get("effect")
    gateway: list[str] = []
    pre_check: list[str] = []
    if effect in ("allow", "require_approval"):
        if use_iam and with_roles:
            gateway.append(
                f"resource policy: Allow execute-api:Invoke on {routes} route(s) for {', '.join(with_roles)}"
            )
            if when.get("source_ips"):
                gateway.append("aws:SourceIp condition " + ", ".join(when["source_ips"]))
        if effect == "require_approval":
            pre_check.append("require_approval (the gateway admits; the approval is a pre-check decision)")
        limits = _request_limits(rule.get("rate_limits"))
        throttle = _throttle(limits)
        if limits and use_keys:
            if throttle:
                gateway.append("usage plan per-method throttle " + canonical_json(throttle))
            if routes > 1:
                pre_check.append(
                    "rate_limits as one budget across the rule's operations "
                    "(the gateway throttles each method separately)"
                )
            if any(limit["per"] == "day" for limit in limits):
                pre_check.append("rule-level per-day request limits")
        if any("cost" in entry for entry in rule.get("rate_limits") or ()):
            pre_check.append("cost budgets")
    elif effect == "deny":
        if _pre_check_only(rule):
            pre_check.append("the deny itself (it depends on a condition the gateway cannot check)")
        elif use_iam and with_roles:
            gateway.append(f"resource policy: explicit Deny on {routes} route(s) for {', '.join(with_roles)}")
    return gateway, pre_check
