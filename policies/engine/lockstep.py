"""Lockstep between a policy and the schema version it is approved against: which stale
references block a policy version, and what each could be mapped to in the newer schema.

A reference is *blocking* when it names one thing exactly (`Customer.ssn`, `query.orders`) and
that thing is gone: the rule then silently stops doing what its author meant (a renamed denied
field becomes readable). A glob that matches nothing (`*.secret*`) is reported but does not
block: it still means what it says and may match again.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass

from graphql import (
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    find_breaking_changes,
    find_dangerous_changes,
    get_named_type,
)

from .policy import CompiledPolicy, StaleReference, is_glob
from .schema import ROOT_OPERATION_KINDS, SchemaBundle

# Renames are guessed only among names close enough to be a rename rather than a new field.
_MIN_SIMILARITY = 0.3
_MAX_SUGGESTIONS = 3


@dataclass(frozen=True)
class StaleFix:
    """One stale reference and what a reviewer may do about it: drop it, or map it to one of `renames`."""

    stale: StaleReference
    blocking: bool
    renames: tuple[str, ...]

    def as_dict(self) -> dict[str, object]:
        return {**self.stale.as_dict(), "blocking": self.blocking, "fix": "rename" if self.renames else "drop",
                "renames": list(self.renames)}

    def describe(self, schema_label: str) -> str:
        """One line for a person: where, what, and the fix."""
        where = f"{self.stale.rule} {self.stale.field} '{self.stale.reference}'"
        if self.renames:
            choices = " or ".join(f"'{name}'" for name in self.renames)
            return f"{where} names nothing in {schema_label}: map it to {choices} (added there), or drop it"
        return f"{where} names nothing in {schema_label}: drop it"


def stale_fixes(stale: list[StaleReference], old: SchemaBundle | None, new: SchemaBundle) -> list[StaleFix]:
    """Each stale reference with whether it blocks approval and the renames `old` → `new` suggests."""
    return [
        StaleFix(
            stale=item,
            blocking=not is_glob(item.reference),
            renames=tuple(rename_suggestions(old, new, item.reference, item.kind)) if old is not None else (),
        )
        for item in stale
    ]


def rename_suggestions(old: SchemaBundle, new: SchemaBundle, reference: str, kind: str) -> list[str]:
    """Names in `new` that `reference` (gone from it) may have been renamed to: fields added to the
    same type (root fields for an operation), those of the same type first, then by name similarity."""
    if is_glob(reference) or "." not in reference:
        return []
    type_name, _, field_name = reference.partition(".")
    old_type: GraphQLNamedType | None
    new_type: GraphQLNamedType | None
    if kind == "operation":
        if type_name not in ROOT_OPERATION_KINDS:
            return []
        old_type, new_type = _root(old.schema, type_name), _root(new.schema, type_name)
    else:
        old_type, new_type = old.schema.get_type(type_name), new.schema.get_type(type_name)
    if not isinstance(old_type, GraphQLObjectType) or not isinstance(new_type, GraphQLObjectType):
        return []
    removed = old_type.fields.get(field_name)
    if removed is None:
        return []
    added = [name for name in new_type.fields if name not in old_type.fields]

    def rank(name: str) -> tuple[bool, float]:
        same_type = str(new_type.fields[name].type) == str(removed.type)
        return same_type, difflib.SequenceMatcher(None, field_name.lower(), name.lower()).ratio()

    ranked = sorted(added, key=rank, reverse=True)
    close = [name for name in ranked if rank(name)[0] or rank(name)[1] >= _MIN_SIMILARITY]
    return [f"{type_name}.{name}" for name in close[:_MAX_SUGGESTIONS]]


def _root(schema: GraphQLSchema, kind: str) -> GraphQLObjectType | None:
    return {"query": schema.query_type, "mutation": schema.mutation_type,
            "subscription": schema.subscription_type}[kind]


# graphql-core's "dangerous" changes that only add something; a changed default is a change.
_ADDITIVE_DANGEROUS = frozenset({
    "VALUE_ADDED_TO_ENUM", "INTERFACE_ADDED_TO_OBJECT", "TYPE_ADDED_TO_UNION", "OPTIONAL_INPUT_FIELD_ADDED",
    "OPTIONAL_ARG_ADDED",
})


def not_additive(old: SchemaBundle, new: SchemaBundle, policy: CompiledPolicy) -> list[str]:
    """Why `new` is not a purely additive successor of `old` under `policy` (empty: it is).

    Additive means nothing was removed or changed (graphql-core's breaking changes, and its
    dangerous ones other than additions), and no new field appears on a type reachable from an
    operation admitted by a rule that denies fields: such a rule was written without knowing the
    field, so a person must decide whether it is denied too."""
    problems = [f"{change.type.name}: {change.description}" for change in find_breaking_changes(old.schema, new.schema)]
    problems += [
        f"{change.type.name}: {change.description}"
        for change in find_dangerous_changes(old.schema, new.schema)
        if change.type.name not in _ADDITIVE_DANGEROUS
    ]
    added = sorted(new.coordinates - old.coordinates)
    for rule in policy.rules:
        if rule.effect == "deny" or not rule.denied_fields or not added:
            continue
        operations = [op for op in new.operations if rule.index in policy.rules_for_operation(op)]
        reachable = types_reachable(new.schema, operations)
        problems += [
            f"new field {coordinate} is reachable from rule {rule.id}'s operations, which deny fields"
            for coordinate in added
            if coordinate.partition(".")[0] in reachable
        ]
    return problems


def types_reachable(schema: GraphQLSchema, operations: Sequence[str]) -> set[str]:
    """Names of the output types a document may reach through the root fields `operations` name."""
    pending: list[GraphQLNamedType] = []
    for operation in operations:
        kind, _, name = operation.partition(".")
        root = _root(schema, kind) if kind in ROOT_OPERATION_KINDS else None
        if root is not None and name in root.fields:
            pending.append(get_named_type(root.fields[name].type))
    seen: set[str] = set()
    while pending:
        type_ = pending.pop()
        if type_.name in seen:
            continue
        seen.add(type_.name)
        if isinstance(type_, GraphQLObjectType | GraphQLInterfaceType):
            pending.extend(get_named_type(field.type) for field in type_.fields.values())
        if isinstance(type_, GraphQLInterfaceType | GraphQLUnionType):
            pending.extend(schema.get_possible_types(type_))
    return seen
