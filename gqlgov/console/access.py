"""Who may call what, read from a policy document (for the schema, operation and agent pages).

Matching itself is the engine's `rule_matches` (the one place that decides which rule covers
which agent and operation); this module only summarises it for people.
"""

from dataclasses import dataclass, field
from typing import Any

from policies.engine import rule_matches
from policies.gateway.plan import AgentInfo

ALLOW, APPROVAL, CONDITIONAL, DENY = "allow", "approval", "conditional", "deny"


def rules_of(document: dict[str, Any] | None) -> list[dict[str, Any]]:
    return [rule for rule in (document or {}).get("rules") or [] if isinstance(rule, dict)]


def governing_rules(document: dict[str, Any] | None, operation: str) -> list[dict[str, Any]]:
    """The rules one of whose operation globs matches `operation`."""
    return [rule for rule in rules_of(document) if rule_matches(rule, operation=operation)]


@dataclass
class Access:
    verdict: str | None  # allow, approval, conditional, deny; None when no rule admits
    rules: list[str] = field(default_factory=list)


def access_for(document: dict[str, Any] | None, agent: Any, operation: str) -> Access:
    """What the policy lets `agent` do with `operation`, ignoring limits and field denies.

    `conditional` means a `when` (hours, IPs, CEL) decides at check time.
    """
    info = AgentInfo.of(agent)
    matching = [rule for rule in governing_rules(document, operation) if rule_matches(rule, info, operation)]
    ids = [str(rule.get("id")) for rule in matching]
    denies = [rule for rule in matching if rule.get("effect") == "deny"]
    admits = [rule for rule in matching if rule.get("effect") in ("allow", "require_approval")]
    if any(not rule.get("when") for rule in denies):
        return Access(DENY, ids)
    if not admits:
        return Access(None, ids)
    unconditional = [rule for rule in admits if not rule.get("when")]
    if denies or not unconditional:
        return Access(CONDITIONAL, ids)
    if any(rule.get("effect") == "allow" for rule in unconditional):
        return Access(ALLOW, ids)
    return Access(APPROVAL, ids)


def allowed_agents(document: dict[str, Any] | None, agents: list[Any], operation: str) -> list[tuple[Any, Access]]:
    """The agents the policy admits for `operation` (possibly conditionally or pending approval)."""
    result = []
    for agent in agents:
        access = access_for(document, agent, operation)
        if access.verdict in (ALLOW, APPROVAL, CONDITIONAL):
            result.append((agent, access))
    return result
