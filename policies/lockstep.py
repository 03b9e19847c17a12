"""Lockstep: every policy version is written, reviewed and approved against one schema version,
and checks under it are decided against that version. Registering a schema version changes
nothing that is enforced; it waits for a policy version approved against it.

This module is the one home of the pin: which schema version a draft starts on, which stale
references refuse submission and approval (POLICY_STALE), and the draft that moves a policy onto
a newer schema version (drafts.draft_for_schema_version).
"""

from typing import Any

from gqlgov.errors import ApiError
from policies import engine
from policies.checks.caches import compiled_policy, schema_bundle
from policies.engine import lockstep as engine_lockstep
from policies.engine.lockstep import StaleFix, stale_fixes
from policies.models import PolicyVersion, Schema, SchemaVersion


def enforced_schema_version(schema: Schema) -> SchemaVersion | None:
    """The schema version checks are decided against: the active policy's, else none."""
    active = schema.active_policy
    return active.schema_version if active is not None else None


def default_pin(schema: Schema) -> SchemaVersion | None:
    """Where a new draft starts: on the enforced schema version (editing rules does not move the
    schema), else, for a schema's first policy, on its latest version."""
    return enforced_schema_version(schema) or schema.latest_version


def pinned_schema_version(version: PolicyVersion) -> SchemaVersion | None:
    return version.schema_version or version.schema.latest_version


def awaiting_review(schema: Schema) -> list[SchemaVersion]:
    """Schema versions registered after the enforced one: none of them decides a check yet."""
    enforced = enforced_schema_version(schema)
    if enforced is None:
        return []
    return list(schema.versions.filter(number__gt=enforced.number).order_by("number"))


def fixes_for(version: PolicyVersion) -> list[StaleFix]:
    """The version's stale references against its pinned schema version, each with its fix
    (renames guessed from the schema version the schema's active policy is pinned to)."""
    pinned = pinned_schema_version(version)
    if pinned is None:
        return []
    bundle = schema_bundle(pinned)
    stale = engine.stale_references(compiled_policy(version, bundle), bundle)
    if not stale:
        return []
    return stale_fixes(stale, _rename_baseline(version.schema, pinned), bundle)


def _rename_baseline(schema: Schema, pinned: SchemaVersion) -> Any:
    """The schema version whose names the rules were written for: the enforced one when the draft
    moves away from it, else the version registered just before the pinned one."""
    enforced = enforced_schema_version(schema)
    if enforced is not None and enforced.pk != pinned.pk:
        return schema_bundle(enforced)
    previous = schema.versions.filter(number__lt=pinned.number).order_by("-number").first()
    return schema_bundle(previous) if previous is not None else None


def refuse_stale(version: PolicyVersion) -> None:
    """POLICY_STALE (409) when a rule names exactly something its schema version does not have,
    with every such reference and its fix in the message and details."""
    fixes = [fix for fix in fixes_for(version) if fix.blocking]
    if not fixes:
        return
    pinned = pinned_schema_version(version)
    label = f"schema v{pinned.number}" if pinned else "the schema"
    raise ApiError(
        "POLICY_STALE",
        f"Policy v{version.number} names what {label} does not have: "
        + "; ".join(fix.describe(label) for fix in fixes) + ".",
        details={"schema_version": pinned.number if pinned else None,
                 "stale": [fix.as_dict() for fix in fixes]},
        status=409,
    )


def version_review(schema: Schema, version: SchemaVersion) -> dict[str, Any]:
    """What a reviewer of schema `version` needs: whether it is enforced or awaiting review, the
    operations and fields it adds with the active rules that would reach each, and the stale
    references (with their fixes) it would cause in the active policy."""
    enforced = enforced_schema_version(schema)
    active = schema.active_policy
    state = "enforced" if enforced is not None and enforced.pk == version.pk else (
        "awaiting_review" if enforced is not None and version.number > enforced.number else
        "not_enforced" if enforced is None else "superseded")
    review: dict[str, Any] = {"state": state, "enforced": enforced, "added_operations": [], "added_fields": [],
                              "fixes": []}
    if active is None or enforced is None or state != "awaiting_review":
        return review
    old, new = schema_bundle(enforced), schema_bundle(version)
    policy = compiled_policy(active, new)
    added_ops = [op for op in new.operations if op not in set(old.operations)]
    review["added_operations"] = [(op, [policy.rules[i].id for i in sorted(policy.rules_for_operation(op))])
                                  for op in added_ops]
    added_fields = sorted(new.coordinates - old.coordinates)
    reach = {rule.id: engine_lockstep.types_reachable(
        new.schema, [op for op in new.operations if rule.index in policy.rules_for_operation(op)])
        for rule in policy.rules if rule.effect != "deny"}
    review["added_fields"] = [(coordinate, [rule for rule, types in reach.items()
                                            if coordinate.partition(".")[0] in types]) for coordinate in added_fields]
    stale = engine.stale_references(policy, new)
    review["fixes"] = stale_fixes(stale, old, new)
    return review
