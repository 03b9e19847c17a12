"""A check on behalf of a person: the agent's decision and the person's, made by the same
`decide`, combined into one. The answer is the intersection: an allow only when both sides allow,
so every limit of either side applies (each side judged the document against its own limits and
the stricter one refuses); pending_approval when one side asks for approval and neither denies.
Each reason says which side it comes from (`side`: "agent" or "delegator")."""

from __future__ import annotations

import dataclasses

from . import reasons
from .decide import ALLOW, DENY, PENDING_APPROVAL, Decision
from .reasons import Reason

# Which identity's rules or limits a reason is about (its `side`).
AGENT_SIDE = "agent"
DELEGATOR_SIDE = "delegator"


def intersect(agent: Decision, delegator: Decision) -> Decision:
    """The decision of the agent acting for the person: the stronger refusal of both sides (deny
    over pending_approval over allow), with the reasons and hints of the sides that refused."""
    sides = ((AGENT_SIDE, agent), (DELEGATOR_SIDE, delegator))
    conditional = agent.conditional or delegator.conditional
    for outcome in (DENY, PENDING_APPROVAL):
        refusing = [(side, decision) for side, decision in sides if decision.decision == outcome]
        if not refusing:
            continue
        return Decision(
            outcome,
            [reasons.on_side(reason, side) for side, decision in refusing for reason in decision.reasons],
            agent.metrics or delegator.metrics,
            agent.operation or delegator.operation,
            admitting_rules=list(agent.admitting_rules),
            deciding_rule=refusing[0][1].deciding_rule,
            # A suggested query cures its own side's refusal only: each hint says whose it is.
            hints=[{**hint, "side": side} for side, decision in refusing for hint in decision.hints],
            conditional=conditional,
            delegator_rules=list(delegator.admitting_rules),
        )
    assert agent.decision == ALLOW and delegator.decision == ALLOW
    return dataclasses.replace(agent, conditional=conditional, delegator_rules=list(delegator.admitting_rules))


def delegator_refused(reason: Reason) -> Decision:
    """The person's side of a check whose person cannot be decided for (unknown, suspended)."""
    return Decision(DENY, [reasons.on_side(reason, DELEGATOR_SIDE)], {}, None)
