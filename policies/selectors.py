"""Reads shared by the API, the commands and the admin."""

from dataclasses import dataclass, field
from typing import Any

from gqlgov.errors import NotFound
from policies import engine
from policies.checks.caches import compiled_policy, schema_bundle
from policies.models import PolicyVersion, Schema, SchemaVersion


def schema_by_name(name: str) -> Schema:
    schema = Schema.objects.select_related("latest_version", "active_policy").filter(name=name).first()
    if schema is None:
        raise NotFound(f"schema '{name}'")
    return schema


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


@dataclass(frozen=True)
class Coverage:
    """Operations no rule governs, and rule references the schema no longer has."""

    ungoverned: list[str] = field(default_factory=list)
    stale: list[dict[str, Any]] = field(default_factory=list)


def policy_coverage(version: PolicyVersion | None, schema_version: SchemaVersion | None = None) -> Coverage:
    """Coverage of a policy version against the schema's latest version (or the one given)."""
    schema_version = schema_version or (version.schema.latest_version if version else None)
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
