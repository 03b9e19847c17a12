"""Reads shared by the API, the commands and the admin."""

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import models
from django.db.models import QuerySet, TextField
from django.db.models.functions import Cast

from gqlgov.errors import ApiError, NotFound
from gqlgov.querysets import created_between, distinct_values, narrowed
from policies import engine
from policies.checks.admission import limit_states
from policies.checks.caches import ActivePolicy, active_policy, compiled_policy, own_schema_cache, schema_bundle
from policies.engine import reasons as reason_codes
from policies.engine.own_schema import OwnSchema, introspection_of, own_schema
from policies.models import Decision, PolicyVersion, Schema, SchemaVersion


def schema_by_name(name: str) -> Schema:
    schema = Schema.objects.select_related("latest_version", "active_policy").filter(name=name).first()
    if schema is None:
        raise NotFound(f"schema '{name}'")
    return schema


def api_by_name(name: str) -> SchemaVersion:
    """The latest version of the REST API `name` (a Schema of kind openapi); NotFound otherwise."""
    version = SchemaVersion.objects.select_related("schema").filter(
        schema__name=name, schema__kind=Schema.Kind.OPENAPI, schema__latest_version__pk=models.F("pk")
    ).first()
    if version is None:
        raise NotFound(f"API '{name}'")
    return version


def policy_version(schema_name: str, number: int | None = None) -> PolicyVersion:
    """Version `number` of a schema's policy, or the active one when `number` is None."""
    schema = schema_by_name(schema_name)
    if number is None:
        if schema.active_policy is None:
            raise NotFound(f"active policy for '{schema_name}'")
        return schema.active_policy
    version = schema.policy_versions.select_related("schema").filter(number=number).first()
    if version is None:
        raise NotFound(f"policy version {number} of '{schema_name}'")
    return version


def version_compared_with(version: PolicyVersion) -> tuple[PolicyVersion | None, str]:
    """What a version's review diff compares it with, and why: an open (draft, in review) version
    against the active one; a decided one against the approved version before it (what it
    replaced, or would have). (None, reason) for the first version."""
    schema = version.schema
    if version.status in (PolicyVersion.Status.DRAFT, PolicyVersion.Status.IN_REVIEW):
        active = schema.active_policy
        if active is not None and active.pk != version.pk:
            return active, "active"
        return None, "no active version"
    before = (
        schema.policy_versions.filter(status=PolicyVersion.Status.APPROVED, number__lt=version.number)
        .order_by("-number")
        .first()
    )
    return (before, "predecessor") if before else (None, "first version")


@dataclass(frozen=True)
class Coverage:
    """Operations no rule governs, and rule references the schema no longer has."""

    ungoverned: list[str] = field(default_factory=list)
    stale: list[dict[str, Any]] = field(default_factory=list)


def policy_coverage(version: PolicyVersion | None, schema_version: SchemaVersion | None = None) -> Coverage:
    """Coverage of a policy version against the schema version it is pinned to (or the one given)."""
    if schema_version is None and version is not None:
        schema_version = version.schema_version or version.schema.latest_version
    if schema_version is None:
        return Coverage()
    if version is None:
        return Coverage(ungoverned=list(schema_version.operations))
    bundle = schema_bundle(schema_version)
    compiled = compiled_policy(version, bundle)
    return Coverage(
        ungoverned=list(engine.ungoverned_operations(compiled, bundle)),
        stale=[_as_dict(item) for item in engine.stale_references(compiled, bundle)],
    )


def policy_warnings(schema: Schema, document: dict[str, Any], rule_id: str | None = None) -> list[str]:
    """What is odd but allowed in a policy document (of `rule_id` only, when given): operation
    globs and denied fields that match nothing in the schema's latest version. Warnings, not
    errors: a rule may be written before the schema gains its operation. Compiled uncached (drafts
    change); empty when the document does not compile or the schema has no version."""
    if schema.latest_version is None:
        return []
    bundle = schema_bundle(schema.latest_version)
    try:
        compiled = engine.compile_policy(document, schema=bundle)
    except engine.PolicyValidationError:
        return []
    return [
        f"Rule {stale.rule}: {stale.kind} {stale.reference!r} ({stale.field}) matches nothing in schema"
        f" {schema.name} v{schema.latest_version.number}; the rule does nothing there until it does."
        for stale in engine.stale_references(compiled, bundle)
        if rule_id is None or stale.rule == rule_id
    ]


def _as_dict(item: Any) -> dict[str, Any]:
    return item if isinstance(item, dict) else item.as_dict()


def schema_version_report(version: SchemaVersion) -> str:
    """Human-readable diagnostics, diff and coverage of a schema version (command output)."""
    lines: list[str] = []
    for diagnostic in version.diagnostics:
        lines.append(f"diagnostic: {diagnostic}")
    diff = version.diff or {}
    for key in ("operations_added", "operations_removed"):
        for operation in diff.get(key, []):
            lines.append(f"{key.replace('_', ' ')}: {operation}")
    for key in ("breaking_changes", "dangerous_changes"):
        for change in diff.get(key, []):
            lines.append(f"{key.replace('_changes', '')} change: {change.get('description', change)}")
    coverage = policy_coverage(version.schema.active_policy, version)
    for operation in coverage.ungoverned:
        lines.append(f"ungoverned operation: {operation}")
    for stale in coverage.stale:
        lines.append(f"stale rule reference: {stale}")
    return "\n".join(lines)


def _active_or_error(schema_name: str) -> ActivePolicy:
    """The active policy of a schema; 404 for an unknown one, 409 NO_ACTIVE_POLICY without a policy."""
    active = active_policy(schema_name)
    if active is None:
        raise NotFound(f"schema '{schema_name}'")
    if active is False:
        raise ApiError("NO_ACTIVE_POLICY", f"Schema '{schema_name}' has no approved policy yet.", status=409)
    assert isinstance(active, ActivePolicy)
    return active


def own_schema_key(active: ActivePolicy, subject: engine.Subject) -> tuple[Any, ...]:
    """What an own schema depends on: policy and schema version, agent name, kind and groups."""
    return (active.policy_version_id, active.schema_version_id, subject.name, subject.kind,
            tuple(sorted(set(subject.groups))))


def own_schema_of(active: ActivePolicy, subject: engine.Subject, only: frozenset[str] | None = None) -> OwnSchema:
    """The subject's own schema under the active policy (with `only`, the part reachable from those
    operations), built once per policy version and agent name, kind and groups."""
    def build() -> OwnSchema:
        title = (f"The schema '{active.schema_name}' (version {active.schema_version}) as {subject.kind}"
                 f" '{subject.name}' may ask it under policy version {active.policy_version}")
        if only is not None:
            title += f", the part reachable from {', '.join(sorted(only))}"
        return own_schema(active.bundle, active.policy, subject, title=title, only=only)

    key = ("sdl", *own_schema_key(active, subject), *((tuple(sorted(only)),) if only is not None else ()))
    built: OwnSchema = own_schema_cache().get_or_create(key, build)
    return built


def own_sdl(schema_name: str, subject: engine.Subject, only: frozenset[str] | None = None) -> str:
    """The subject's own SDL of a schema (with `only`, the part reachable from those operations).
    An agent that may call no query of it has none: 404 as for an unknown schema, so it learns
    nothing of a schema it may not use."""
    own = own_schema_of(_active_or_error(schema_name), subject, only)
    if own.sdl is None:
        raise NotFound(f"schema '{schema_name}'")
    return own.sdl


def own_introspection_json(schema_name: str, subject: engine.Subject) -> str:
    """The subject's own schema as an introspection result (JSON text), cached like the SDL."""
    active = _active_or_error(schema_name)
    sdl = own_sdl(schema_name, subject)
    text: str = own_schema_cache().get_or_create(
        ("introspection", *own_schema_key(active, subject)), lambda: json.dumps(introspection_of(sdl))
    )
    return text


def own_capabilities(subject: engine.Subject) -> list[dict[str, Any]]:
    """Per schema with an active policy, what the subject may call there (schemas where it may call
    nothing are left out), the policy's default limits and the rate limits that apply."""
    found = []
    for name in Schema.objects.filter(active_policy__isnull=False).order_by("name").values_list("name", flat=True):
        active = active_policy(name)
        if not isinstance(active, ActivePolicy):
            continue
        own = own_schema_of(active, subject)
        if not own.capabilities:
            continue
        rules = sorted({rule_id for rule_id, _limit in own.rate_limits if rule_id is not None})
        found.append({
            "schema": name,
            "schema_version": active.schema_version,
            "policy_version": active.policy_version,
            "operations": [capability.as_dict() for capability in own.capabilities],
            "default_limits": active.policy.default_limits.as_dict(),
            "rate_limits": [
                {"rule": rule_id, "kind": limit.kind, "limit": limit.limit, "per": limit.per, "burst": limit.burst}
                for rule_id, limit in own.rate_limits
            ],
            # Read, never charged: what is left of each limit and budget right now (None: the
            # limiter cannot be read at the moment).
            "rate_limit_state": limit_states(active, rules, subject.name),
        })
    return found


# --- The decision log, as the console filters it -------------------------------------------

REASON_CODES = sorted(
    value for name, value in vars(reason_codes).items() if name.isupper() and isinstance(value, str) and value == name
)


@dataclass(frozen=True)
class DecisionFilter:
    """What the decision log is narrowed to; empty fields do not narrow it."""

    agent: str = ""
    schema: str = ""
    decision: str = ""
    reason: str = ""  # one of REASON_CODES
    start: datetime | None = None
    end: datetime | None = None


def decisions(where: DecisionFilter) -> QuerySet[Decision]:
    """Decisions matching `where`, newest first."""
    queryset = narrowed(
        Decision.objects.order_by("-created_at"),
        agent_name=where.agent,
        schema_name=where.schema,
        decision=where.decision,
        **created_between(where.start, where.end),
    )
    if where.reason in REASON_CODES:
        # Reasons are a JSON list of objects; the quoted code is found in its text on every backend.
        queryset = queryset.annotate(reasons_text=Cast("reasons", TextField())).filter(
            reasons_text__contains=f'"{where.reason}"'
        )
    return queryset


def decision_choices() -> dict[str, list[str]]:
    """The agent and schema names the log holds, for the filters' pickers (bounded)."""
    return {
        "agents": distinct_values(Decision.objects, "agent_name", 500),
        "schemas": distinct_values(Decision.objects, "schema_name", 200),
    }
