"""The plan's report: per rule, what the gateway enforces (`gateway`), what only the pre-check
decides (`pre_check_only`) and what makes that decision binding in the target's mode (`binding`).
Pure; rules are matched with the engine's `rule_matches`, as everywhere else.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from policies.engine import rule_matches
from policies.gateway.enforcement import AUTHORIZER_NAME, DECISION_HEADER
from policies.gateway.plan_basics import (
    ADVISORY,
    AUTHORIZER,
    BACKEND,
    PRE_CHECK_ONLY_CONDITIONS,
    AgentInfo,
    canonical_json,
    pre_check_only,
    request_limits,
    throttle,
)

BINDING = {
    BACKEND: f"the backend verifies the decision token in {DECISION_HEADER} (gqlgov_verify.lambda_guard)",
    AUTHORIZER: (
        f"the authorizer {AUTHORIZER_NAME} verifies the decision token in {DECISION_HEADER}; "
        "the backend binds it to the document (gqlgov_verify.lambda_guard)"
    ),
    ADVISORY: "none: advisory mode; a caller that skips the pre-check meets only the gateway lines",
}
# Advisory mode: what becomes of a rule the gateway cannot reproduce.
NOT_GRANTED = "the gateway grants none of the rule's operations: advisory mode cannot check it"


def plan_report(
    rules: list[Mapping[str, Any]],
    agents: list[AgentInfo],
    operations: list[str],
    *,
    mode: str,
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
        gateway, by_effect = _enforcement(rule, len(matched_ops), with_roles, mode=mode, use_iam=use_iam)
        throttled, unthrottled = _usage_plan_lines(rule, len(matched_ops), use_keys=use_keys)
        gateway += throttled
        ungranted = mode == ADVISORY and effect == "allow"
        pre_check = [
            PRE_CHECK_ONLY_CONDITIONS[key] + (f": {NOT_GRANTED}" if ungranted else "")
            for key in PRE_CHECK_ONLY_CONDITIONS
            if when.get(key)
        ]
        pre_check += by_effect + unthrottled
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
                "binding": BINDING[mode],
            }
        )
    return report


def _enforcement(
    rule: Mapping[str, Any], routes: int, with_roles: list[str], *, mode: str, use_iam: bool
) -> tuple[list[str], list[str]]:
    """What of the rule's effect the gateway enforces, and what of it only the pre-check does."""
    when = rule.get("when") or {}
    effect = rule.get("effect")
    gateway: list[str] = []
    pre_check: list[str] = []
    conditional = pre_check_only(rule)
    if mode == AUTHORIZER:
        if effect != "deny" or not conditional:
            gateway.append(
                f"REQUEST authorizer {AUTHORIZER_NAME} on every method: a valid decision token naming "
                "the route's operation (gqlgov issues none for what it does not allow)"
            )
    elif effect in ("allow", "require_approval") and use_iam and with_roles:
        if mode == ADVISORY and (effect == "require_approval" or conditional):
            gateway.append(f"resource policy: no Allow for the rule's {routes} route(s) ({NOT_GRANTED})")
        else:
            gateway.append(
                f"resource policy: Allow execute-api:Invoke on {routes} route(s) for {', '.join(with_roles)}"
            )
            if when.get("source_ips"):
                gateway.append("aws:SourceIp condition " + ", ".join(when["source_ips"]))
    elif effect == "deny" and use_iam and with_roles:
        if not conditional:
            gateway.append(
                f"resource policy: explicit Deny on {routes} route(s) and /graphql for {', '.join(with_roles)}"
            )
        elif mode == ADVISORY:
            gateway.append(
                f"resource policy: no Allow on the rule's {routes} route(s) for {', '.join(with_roles)} "
                "(the gateway cannot tell when the deny holds)"
            )
    if effect == "require_approval":
        pre_check.append(
            f"require_approval ({NOT_GRANTED})"
            if mode == ADVISORY
            else "require_approval (the approval is a pre-check decision; the decision token binds it)"
        )
    if effect == "deny" and conditional:
        pre_check.append("the deny itself (it depends on a condition the gateway cannot check)")
    return gateway, pre_check


def _usage_plan_lines(rule: Mapping[str, Any], routes: int, *, use_keys: bool) -> tuple[list[str], list[str]]:
    """The rule's rate limits: what the usage plans enforce, and what only the pre-check does."""
    gateway: list[str] = []
    pre_check: list[str] = []
    if rule.get("effect") not in ("allow", "require_approval"):
        return gateway, pre_check
    limits = request_limits(rule.get("rate_limits"))
    rule_throttle = throttle(limits)
    if limits and use_keys:
        if rule_throttle:
            gateway.append("usage plan per-method throttle " + canonical_json(rule_throttle))
        if routes > 1:
            pre_check.append(
                "rate_limits as one budget across the rule's operations (the gateway throttles each method separately)"
            )
        if any(limit["per"] == "day" for limit in limits):
            pre_check.append("rule-level per-day request limits")
    if any("cost" in entry for entry in rule.get("rate_limits") or ()):
        pre_check.append("cost budgets")
    return gateway, pre_check
