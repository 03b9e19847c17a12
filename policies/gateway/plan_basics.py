"""What the plan's parts share (plan.py, access.py, enforcement.py, report.py): route paths and
their resource-policy ARNs, the plan's inputs as plain data, canonical JSON, request limits as
gateway throttles. Pure: no Django, no boto3, no I/O.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from policies.engine.ratelimits import PERIOD_SECONDS

GRAPHQL_PATH = "/graphql"
HTTP_METHOD = "POST"
SID_PREFIX = "Gqlgov"
# What the gateway cannot check; each is evaluated by the pre-check (POST /api/v1/check) only.
PRE_CHECK_ONLY_CONDITIONS = {"hours": "when.hours (time windows)", "expression": "when.expression (CEL)"}
# How a target enforces the pre-check's decisions (GatewayTarget.Enforcement; README, "Enforcement").
BACKEND, AUTHORIZER, ADVISORY = "backend", "authorizer", "none"
ENFORCEMENT_MODES = (BACKEND, AUTHORIZER, ADVISORY)


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
    enforcement: str = BACKEND  # backend | authorizer | none (see ENFORCEMENT_MODES)
    authorizer_arn: str = ""  # authorizer mode: an existing function; empty: the export deploys one
    authorizer_role_arn: str = ""  # the execution role of the function the export deploys

    @classmethod
    def of(cls, target: Any) -> TargetInfo:
        if isinstance(target, TargetInfo):
            return target
        get = target.get if isinstance(target, Mapping) else lambda key, default=None: getattr(target, key, default)
        return cls(**{name: str(get(name, "") or default) for name, default in _TARGET_DEFAULTS.items()})

    @property
    def account(self) -> str:
        """The API's account: the target's, else that of the backend or authorizer function."""
        return self.account_id or account_of(self.lambda_arn) or account_of(self.authorizer_arn)


_TARGET_DEFAULTS = {
    "name": "",
    "stage_name": "",
    "region": "us-east-1",
    "account_id": "",
    "rest_api_id": "",
    "lambda_arn": "",
    "http_url": "",
    "auth_mode": "both",
    "enforcement": BACKEND,
    "authorizer_arn": "",
    "authorizer_role_arn": "",
}


def account_of(arn: str) -> str:
    """The account id of an ARN (arn:partition:service:region:account:...); empty if none."""
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 and parts[0] == "arn" else ""


def route_path(operation: str | None) -> str:
    return GRAPHQL_PATH if operation is None else f"{GRAPHQL_PATH}/{operation}"


def route_arn(stage: str, path: str) -> str:
    """The resource-policy form; API Gateway expands ``execute-api:/`` to the API's ARN."""
    return f"execute-api:/{stage}/{HTTP_METHOD}{path}"


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(value: Any) -> str:
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


def request_limits(entries: Iterable[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
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


def throttle(limits: list[dict[str, Any]]) -> dict[str, Any] | None:
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


def strictest(a: dict[str, Any] | None, b: dict[str, Any] | None) -> dict[str, Any] | None:
    if a is None or b is None:
        return a or b
    return {
        "rateLimit": min(a["rateLimit"], b["rateLimit"]),
        "burstLimit": min(a["burstLimit"], b["burstLimit"]),
    }


def gateway_condition(rule: Mapping[str, Any]) -> tuple[str, ...]:
    """The part of a rule's `when` the gateway evaluates: its source IPs (empty: none)."""
    return tuple(sorted((rule.get("when") or {}).get("source_ips") or ()))


def pre_check_only(rule: Mapping[str, Any]) -> bool:
    """A condition the gateway cannot evaluate (hours, CEL)."""
    when = rule.get("when") or {}
    return any(when.get(key) for key in PRE_CHECK_ONLY_CONDITIONS)
