"""A target's live API Gateway state as the applier reads it, and how live objects compare with
the plan (by content: AWS returns policies escaped, numbers as strings, lists in any order).

Ownership: gqlgov reads everything but counts as its own only what it created or tagged:
the REST API and the usage plans and API keys tagged ``managed-by: gqlgov`` and
``gqlgov:target: <target>``, and its own statements (Sid prefix ``Gqlgov``) of the resource policy.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from policies.gateway.aws import error_code
from policies.gateway.plan import MANAGED_BY, SID_PREFIX, canonical_json


@dataclass
class LiveState:
    api: dict[str, Any] | None = None
    api_owned: bool = False
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)  # path -> resource
    validators: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> validator
    models: dict[str, dict[str, Any]] = field(default_factory=dict)
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)
    authorizers: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> authorizer
    usage_plans: list[dict[str, Any]] = field(default_factory=list)  # owned by this target
    usage_plan_keys: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # plan id -> keys
    api_keys: list[dict[str, Any]] = field(default_factory=list)  # owned by this target


def pages(client: Any, operation: str, **params: Any) -> list[dict[str, Any]]:
    return [item for page in client.get_paginator(operation).paginate(**params) for item in page.get("items", [])]


def is_owned(tags: dict[str, str] | None, target_name: str) -> bool:
    tags = tags or {}
    return tags.get(MANAGED_BY[0]) == MANAGED_BY[1] and tags.get("gqlgov:target") == target_name


def find_api(client: Any, plan: dict[str, Any]) -> tuple[dict[str, Any] | None, bool]:
    """The target's REST API and whether gqlgov owns it (created it)."""
    target = plan["target"]
    if target["rest_api_id"]:
        api = client.get_rest_api(restApiId=target["rest_api_id"])
        return api, is_owned(api.get("tags"), target["name"])
    for api in pages(client, "get_rest_apis"):
        if is_owned(api.get("tags"), target["name"]):
            return api, True
    return None, True


# API Gateway's and Lambda's codes for "no such object".
NOT_FOUND_CODES = {"NotFoundException", "ResourceNotFoundException"}


def or_none(read: Callable[[], dict[str, Any]]) -> dict[str, Any] | None:
    """The read's answer, or None when AWS says the object does not exist."""
    try:
        return read()
    except ClientError as exc:
        if error_code(exc) in NOT_FOUND_CODES:
            return None
        raise


def first(items: list[dict[str, Any]], **match: Any) -> dict[str, Any] | None:
    return next((item for item in items if all(item.get(k) == v for k, v in match.items())), None)


def read_live(client: Any, plan: dict[str, Any], api: dict[str, Any] | None, owned: bool) -> LiveState:
    live = LiveState(api=api, api_owned=owned)
    target_name = plan["target"]["name"]
    if api is not None:
        api_id = api["id"]
        for resource in pages(client, "get_resources", restApiId=api_id, embed=["methods"], limit=500):
            live.resources[resource["path"]] = resource
        live.validators = {v["name"]: v for v in client.get_request_validators(restApiId=api_id).get("items", [])}
        live.models = {m["name"]: m for m in client.get_models(restApiId=api_id).get("items", [])}
        live.stages = {s["stageName"]: s for s in client.get_stages(restApiId=api_id).get("item", [])}
        live.authorizers = {a["name"]: a for a in client.get_authorizers(restApiId=api_id, limit=500).get("items", [])}
    live.usage_plans = [p for p in pages(client, "get_usage_plans") if is_owned(p.get("tags"), target_name)]
    for usage_plan in live.usage_plans:
        live.usage_plan_keys[usage_plan["id"]] = pages(client, "get_usage_plan_keys", usagePlanId=usage_plan["id"])
    live.api_keys = [k for k in pages(client, "get_api_keys") if is_owned(k.get("tags"), target_name)]
    return live


# --- Comparing live objects with the plan ---------------------------------------------------------------------


def _listify(value: Any) -> list[Any]:
    return sorted(value) if isinstance(value, list) else [value]


def normalise_policy(policy: Any) -> dict[str, Any] | None:
    """A resource policy as a comparable dict: parsed (AWS returns it escaped), full execute-api
    ARNs shortened to ``execute-api:/``, one-element lists and strings made the same."""
    if not policy:
        return None
    if isinstance(policy, str):
        try:
            policy = json.loads(policy)
        except ValueError:
            policy = json.loads(policy.replace('\\"', '"'))
    statements = []
    for statement in policy.get("Statement", []):
        statement = dict(statement)
        resources = [
            "execute-api:/" + r.split(":", 5)[5].split("/", 1)[1] if r.startswith("arn:") and "execute-api" in r else r
            for r in _listify(statement.get("Resource", []))
        ]
        statement["Resource"] = sorted(resources)
        principal = statement.get("Principal")
        if isinstance(principal, dict):
            statement["Principal"] = {k: _listify(v) for k, v in principal.items()}
        statement["Action"] = _listify(statement.get("Action", []))
        if "Condition" in statement:
            statement["Condition"] = {
                op: {key: _listify(value) for key, value in values.items()}
                for op, values in statement["Condition"].items()
            }
        statements.append(statement)
    return {
        "Version": policy.get("Version", "2012-10-17"),
        "Statement": sorted(statements, key=canonical_json),
    }


def desired_policy(plan: dict[str, Any], live_policy: Any) -> dict[str, Any] | None:
    """The plan's statements plus every statement of the live policy that gqlgov does not own."""
    mine = plan["api"]["policy"]
    live = normalise_policy(live_policy) or {"Statement": []}
    foreign = [s for s in live["Statement"] if not str(s.get("Sid", "")).startswith(SID_PREFIX)]
    if mine is None and not foreign:
        return None
    return {"Version": "2012-10-17", "Statement": [*(mine or {}).get("Statement", []), *foreign]}


def _same_number(a: Any, b: Any) -> bool:
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return a == b


def same_throttle(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
    a, b = a or {}, b or {}
    return all(_same_number(a.get(k), b.get(k)) for k in ("rateLimit", "burstLimit"))


def same_quota(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
    a, b = a or {}, b or {}
    return all(
        _same_number(a.get(k, 0 if k == "offset" else None), b.get(k, 0 if k == "offset" else None))
        for k in ("limit", "period", "offset")
    )


def patch_number(value: Any) -> str:
    return str(int(value)) if float(value) == int(float(value)) else str(value)


def same_method_throttles(live: dict[str, Any] | None, desired: dict[str, Any]) -> bool:
    live = live or {}
    return set(live) == set(desired) and all(same_throttle(live[k], desired[k]) for k in desired)
