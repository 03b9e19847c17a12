"""Who may call which route: per agent, the operations the gateway may admit and must deny, and
the resource policy that says so. Pure; rules are matched with the engine's `rule_matches` only.

Whatever the enforcement mode, the resource policy never grants what the pre-check refuses:
- advisory mode (``none``) has nothing that verifies the pre-check's decision at the gateway,
  so a rule whose answer the gateway cannot reproduce (``require_approval``, ``when.hours``,
  ``when.expression``) grants nothing, and no rule grants an operation that a deny with such a
  condition covers (the gateway cannot tell when that deny holds). In ``backend`` and
  ``authorizer`` modes those rules grant: the decision token carries the pre-check's answer.
- in every mode ``/graphql`` (whole documents: any operation in the body) is granted only to an
  agent the pre-check admits for every operation of the schema without conditions (an ``allow``
  rule without ``when``, no ``deny`` or ``require_approval`` rule covering it); others get their
  per-operation routes only.
- Deny statements, with their ``aws:SourceIp`` conditions, cover ``/graphql`` as well as the
  per-operation routes, so a denied operation cannot be sent in a whole document.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from policies.engine import rule_matches
from policies.gateway.plan_basics import (
    GRAPHQL_PATH,
    SID_PREFIX,
    AgentInfo,
    gateway_condition,
    pre_check_only,
    request_limits,
    route_arn,
    route_path,
    strictest,
    throttle,
)


@dataclass
class Access:
    """One agent's admitted and denied operations, grouped by gateway condition."""

    allow: dict[tuple[str, ...], set[str]] = field(default_factory=dict)  # source_ips -> operations
    deny: dict[tuple[str, ...], set[str]] = field(default_factory=dict)
    admitted: set[str] = field(default_factory=set)
    method_throttles: dict[str, dict[str, Any]] = field(default_factory=dict)  # operation -> throttle
    whole_documents: bool = False  # granted POST /graphql


def agent_access(
    agent: AgentInfo, rules: list[Mapping[str, Any]], operations: list[str], *, complete: bool, advisory: bool
) -> Access:
    """The agent's access to the governed `operations`; `complete`: they are every operation of
    the schema (otherwise a whole document may hold one no rule governs); `advisory`: mode none."""
    access = Access()
    unconditional: set[str] = set()  # admitted by an allow rule without `when`
    qualified: set[str] = set()  # covered by a deny or require_approval rule
    unknowable: set[str] = set()  # advisory: denied under a condition only the pre-check sees
    for rule in rules:
        matched = {op for op in operations if rule_matches(rule, agent, op)}
        if not matched:
            continue
        effect = rule.get("effect")
        if effect == "deny":
            qualified |= matched
            if not pre_check_only(rule):
                access.deny.setdefault(gateway_condition(rule), set()).update(matched)
            elif advisory:
                unknowable |= matched
            continue
        if effect not in ("allow", "require_approval"):
            continue
        if effect == "require_approval":
            qualified |= matched
        if advisory and (effect == "require_approval" or pre_check_only(rule)):
            continue
        if effect == "allow" and not rule.get("when"):
            unconditional |= matched
        access.allow.setdefault(gateway_condition(rule), set()).update(matched)
        rule_throttle = throttle(request_limits(rule.get("rate_limits")))
        if rule_throttle:
            for op in matched:
                access.method_throttles[op] = strictest(access.method_throttles.get(op), rule_throttle)
    never = access.deny.get((), set()) | unknowable
    for condition in list(access.allow):
        access.allow[condition] -= never
        if not access.allow[condition]:
            del access.allow[condition]
    access.admitted = set().union(*access.allow.values())
    access.whole_documents = complete and bool(operations) and unconditional >= set(operations) and not qualified
    return access


def resource_policy(agents: list[AgentInfo], access: Mapping[str, Access], stage: str) -> dict[str, Any]:
    """The resource policy's gqlgov statements: the agents' Allows and Denies (agents with
    identical access share a statement) and the Deny of every IAM caller that is not an agent."""
    everything = sorted({route_arn(stage, GRAPHQL_PATH), route_arn(stage, GRAPHQL_PATH + "/*")})
    # (effect, source_ips, resources) -> role ARNs
    groups: dict[tuple[str, tuple[str, ...], tuple[str, ...]], set[str]] = {}
    roles = sorted({agent.iam_role_arn for agent in agents if agent.iam_role_arn and access[agent.name].admitted})
    for agent in agents:
        if agent.iam_role_arn not in roles:
            continue
        agent_access = access[agent.name]
        for condition, ops in agent_access.allow.items():
            if agent_access.whole_documents and not condition:
                resources = everything
            else:
                resources = sorted(route_arn(stage, route_path(op)) for op in ops)
            groups.setdefault(("Allow", condition, tuple(resources)), set()).add(agent.iam_role_arn)
        for condition, ops in agent_access.deny.items():
            paths = {GRAPHQL_PATH} | {route_path(op) for op in ops}
            resources = sorted(route_arn(stage, path) for path in paths)
            groups.setdefault(("Deny", condition, tuple(resources)), set()).add(agent.iam_role_arn)
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
    statements = [{"Sid": f"{SID_PREFIX}DenyUnlisted", **unlisted}]
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
