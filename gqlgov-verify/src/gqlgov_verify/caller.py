"""Is the caller the agent a decision was made for?

The agent is `sub`, or in a decision made on behalf of a person (RFC 8693 delegation: `sub` is
the person) the actor, `act.sub`. A caller is named either by the agent's name (compared with
that) or by an AWS principal ARN (compared with `iam_role_arn`). API Gateway reports an IAM
caller that assumed a role as its STS session, `arn:aws:sts::123456789012:assumed-role/ROLE/SESSION`,
while gqlgov knows the role,
`arn:aws:iam::123456789012:role/PATH/ROLE`: the session ARN drops the role's path, and a role's
name is unique in its account whatever its path, so partition, account and name decide.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Any


def acting_agent(claims: Mapping[str, Any]) -> str | None:
    """The agent the decision was made for: `act.sub` when it acted for a person, else `sub`."""
    act = claims.get("act")
    subject = act.get("sub") if isinstance(act, Mapping) else claims.get("sub")
    return subject if isinstance(subject, str) else None


def on_behalf_of(claims: Mapping[str, Any]) -> str | None:
    """The person the agent acted for (the token's `sub` when it has an `act` claim), else None."""
    subject = claims.get("sub")
    return subject if isinstance(claims.get("act"), Mapping) and isinstance(subject, str) else None


def caller_matches(claims: Mapping[str, Any], caller: str) -> bool:
    """True when `caller` (an agent name or an IAM/STS ARN) is the token's agent."""
    if caller.startswith("arn:"):
        role_arn = claims.get("iam_role_arn")
        return isinstance(role_arn, str) and arn_is_role(caller, role_arn)
    agent = acting_agent(claims)
    return agent is not None and hmac.compare_digest(agent.encode(), caller.encode())


def arn_is_role(caller_arn: str, role_arn: str) -> bool:
    """True when `caller_arn` is `role_arn` itself or a session of that role (assumed-role ARN)."""
    if caller_arn == role_arn:
        return True
    session = _assumed_role(caller_arn)
    role = _role(role_arn)
    return session is not None and session == role


def _assumed_role(arn: str) -> tuple[str, str, str] | None:
    """(partition, account, role name) of `arn:PARTITION:sts::ACCOUNT:assumed-role/ROLE/SESSION`."""
    parsed = _resource(arn, "sts", "assumed-role")
    if parsed is None or len(parsed[2]) != 2:
        return None
    return parsed[0], parsed[1], parsed[2][0]


def _role(arn: str) -> tuple[str, str, str] | None:
    """(partition, account, role name) of `arn:PARTITION:iam::ACCOUNT:role/[PATH/]ROLE`."""
    parsed = _resource(arn, "iam", "role")
    if parsed is None:
        return None
    return parsed[0], parsed[1], parsed[2][-1]


def _resource(arn: str, service: str, kind: str) -> tuple[str, str, list[str]] | None:
    """(partition, account, the resource's segments after `kind/`) of a global ARN of `service`."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != service or parts[3] != "" or not parts[4]:
        return None
    segments = parts[5].split("/")
    if segments[0] != kind or len(segments) < 2 or not all(segments[1:]):
        return None
    return parts[1], parts[4], segments[1:]
