"""A tiny evaluator of API Gateway resource policies, enough for the statements gqlgov writes:
what a policy says to one caller (an IAM role, from an address) invoking one route.

IAM's rules as far as they matter here: an explicit Deny wins, else an Allow grants, else the
policy says nothing ("Neither"; the request is then refused unless an identity policy of the
same account allows it). `*` in a resource matches any characters.
"""

from __future__ import annotations

import fnmatch
import ipaddress
from typing import Any

from policies.gateway.live import normalise_policy

ROUTE = "execute-api:/prod/POST{path}"


def route(path: str) -> str:
    """The resource of POST `path` on the prod stage, as gqlgov's statements name it."""
    return ROUTE.format(path=path)


def evaluate(policy: Any, *, principal: str, resource: str, source_ip: str = "203.0.113.7") -> str:
    """ "Deny", "Allow" or "Neither" for `principal` invoking `resource` from `source_ip`;
    `policy` as stored (a dict, or the escaped string API Gateway returns)."""
    statements = (normalise_policy(policy) or {"Statement": []})["Statement"]
    effects = {s["Effect"] for s in statements if _applies(s, principal, resource, source_ip)}
    return "Deny" if "Deny" in effects else "Allow" if "Allow" in effects else "Neither"


def allows_covering(policy: Any, *, principal: str, resource: str) -> list[dict[str, Any]]:
    """The Allow statements naming `principal` with a resource that covers `resource`, whatever
    their conditions."""
    statements = (normalise_policy(policy) or {"Statement": []})["Statement"]
    return [
        s
        for s in statements
        if s["Effect"] == "Allow" and _names(s, principal) and any(_covers(r, resource) for r in s["Resource"])
    ]


def _applies(statement: dict[str, Any], principal: str, resource: str, source_ip: str) -> bool:
    if not _names(statement, principal):
        return False
    if not any(action in ("execute-api:Invoke", "execute-api:*", "*") for action in statement["Action"]):
        return False
    if not any(_covers(pattern, resource) for pattern in statement["Resource"]):
        return False
    return all(
        _condition(operator, key, values, principal, source_ip)
        for operator, entries in (statement.get("Condition") or {}).items()
        for key, values in entries.items()
    )


def _names(statement: dict[str, Any], principal: str) -> bool:
    named = statement.get("Principal")
    if named == "*":
        return True
    roles = named.get("AWS", []) if isinstance(named, dict) else []
    return "*" in roles or principal in roles


def _covers(pattern: str, resource: str) -> bool:
    return fnmatch.fnmatchcase(resource, pattern)


def _condition(operator: str, key: str, values: list[str], principal: str, source_ip: str) -> bool:
    if key == "aws:PrincipalArn" and operator == "StringNotEquals":
        return principal not in values
    if key == "aws:SourceIp" and operator in ("IpAddress", "NotIpAddress"):
        inside = any(ipaddress.ip_address(source_ip) in ipaddress.ip_network(value) for value in values)
        return inside if operator == "IpAddress" else not inside
    raise AssertionError(f"the test evaluator does not know {operator} {key}")
