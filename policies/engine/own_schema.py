"""Each agent's own schema: the SDL restricted to what its rules let it ask, and its capabilities.

The restriction follows the check (decide.py) through the same compiled-policy indexes
(`candidate_rules`, `callable_operations`: matching.py's definitions), conservatively: a root field
stays when an allow or require_approval rule covers it (maybe under conditions) and no
unconditional deny of the whole operation does; a field goes when any of the agent's rules that
covers a kept operation denies it, under conditions or not. So a document valid against the own
schema is one the check decides on its merits (conditions and limits), never one it refuses for a
field the agent could not see.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from graphql import (
    EnumTypeDefinitionNode,
    FieldDefinitionNode,
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLUnionType,
    InputObjectTypeDefinitionNode,
    InterfaceTypeDefinitionNode,
    NamedTypeNode,
    NameNode,
    ObjectTypeDefinitionNode,
    OperationType,
    OperationTypeDefinitionNode,
    ScalarTypeDefinitionNode,
    SchemaDefinitionNode,
    TypeDefinitionNode,
    UnionTypeDefinitionNode,
    build_ast_schema,
    get_named_type,
    introspection_from_schema,
    is_specified_directive,
    is_specified_scalar_type,
    parse,
)
from graphql.language import DefinitionNode

from .agent_view import Visibility, visibility_of
from .limits import Limits
from .matching import Agent
from .policy import CompiledPolicy, Rule
from .ratelimits import RateLimit
from .schema import COST_DIRECTIVE, LIST_SIZE_DIRECTIVE, ROOT_OPERATION_KINDS, SENSITIVE_DIRECTIVE, SchemaBundle
from .sdl_printer import print_definition

# The directives the check reads (schema.py): always kept when the schema defines them.
GQLGOV_DIRECTIVES = frozenset({COST_DIRECTIVE, LIST_SIZE_DIRECTIVE, SENSITIVE_DIRECTIVE})


@dataclass(frozen=True, slots=True)
class Capability:
    """One operation an agent may call: `effect` is require_approval when any rule that admits it
    asks for approval; `conditions` the kinds of conditions of its admitting rules when none admits
    it unconditionally ("hours window", "source IPs", "an expression")."""

    operation: str
    effect: str
    conditions: tuple[str, ...]
    rules: tuple[str, ...]  # the admitting rules' ids, in file order
    limits: Limits  # per dimension the strictest admitting rule's limit, else the policy's default

    def as_dict(self) -> dict[str, Any]:
        return {
            "operation": self.operation,
            "effect": self.effect,
            "conditions": list(self.conditions),
            "rules": list(self.rules),
            "limits": self.limits.as_dict(),
        }


@dataclass(frozen=True, slots=True)
class OwnSchema:
    """An agent's own schema: the SDL (None when it may call no query) and what it may call."""

    sdl: str | None
    capabilities: tuple[Capability, ...]
    hidden_fields: frozenset[str]  # coordinates removed from kept types ("Customer.ssn")
    rate_limits: tuple[tuple[str | None, RateLimit], ...]  # (rule id, or None for the defaults, limit)
    visibility: Visibility  # what the check may tell the agent about its documents (agent_view.py)


def condition_kinds(rule: Rule) -> tuple[str, ...]:
    """The kinds of conditions of a rule, named as an agent is told them (not their values)."""
    kinds = []
    if rule.hours is not None:
        kinds.append("hours window")
    if rule.source_networks is not None:
        kinds.append("source IPs")
    if rule.expression is not None:
        kinds.append("an expression")
    return tuple(kinds)


def capabilities(bundle: SchemaBundle, policy: CompiledPolicy, subject: Agent) -> tuple[Capability, ...]:
    """The operations of `bundle` the subject may call, in schema order, with effect, conditions and
    limits: those of its own schema's root fields (own_schema without printing it)."""
    return _restricted(bundle, policy, subject)[1]


def _admitted(policy: CompiledPolicy, candidates: Sequence[Rule], operations: Sequence[str]) -> list[Capability]:
    """The operations an allow or require_approval rule of the candidates admits (policy.callable_operations)."""
    found = []
    for operation in policy.callable_operations(candidates, operations):
        covering = policy.rules_for_operation(operation)
        admitting = [rule for rule in candidates if rule.index in covering and rule.effect != "deny"]
        unconditional = [rule for rule in admitting if not rule.has_conditions]
        conditions = () if unconditional else tuple(
            dict.fromkeys(kind for rule in admitting for kind in condition_kinds(rule))
        )
        found.append(Capability(
            operation=operation,
            effect="require_approval" if any(r.effect == "require_approval" for r in admitting) else "allow",
            conditions=conditions,
            rules=tuple(rule.id for rule in admitting),
            limits=_strictest(policy.default_limits, (rule.limits for rule in admitting)),
        ))
    return found


def _strictest(defaults: Limits, limits: Iterable[Limits]) -> Limits:
    values = defaults.as_dict()
    chosen: dict[str, int] = {}
    for one in limits:
        for dimension, limit in one.items():
            chosen[dimension] = min(limit, chosen.get(dimension, limit))
    return Limits.from_mapping({**values, **chosen})


def own_schema(bundle: SchemaBundle, policy: CompiledPolicy, subject: Agent, *, title: str = "",
               only: frozenset[str] | None = None) -> OwnSchema:
    """The subject's own schema of `bundle` under `policy`; `title` opens the leading comment.
    With `only` (operations such as "query.orders"), just the part reachable from those of them
    the subject may call."""
    candidates, found, restriction = _restricted(bundle, policy, subject, only)
    admitting = {rule_id for capability in found for rule_id in capability.rules}
    rate_limits = (
        *((None, limit) for limit in policy.default_rate_limits),
        *((rule.id, limit) for rule in candidates if rule.id in admitting for limit in rule.rate_limits),
    )
    sdl = None
    kept = restriction.reachable()
    definitions = restriction.definitions(kept)
    if restriction.roots.get("query"):
        sdl = _header(title, policy, found, rate_limits) + _printed(definitions)
    return OwnSchema(
        sdl, found, frozenset(restriction.hidden), tuple(rate_limits), restriction.visibility(kept, definitions)
    )


def _printed(definitions: Sequence[DefinitionNode]) -> str:
    return "\n\n".join(print_definition(node) for node in definitions) + "\n"


def _restricted(
    bundle: SchemaBundle, policy: CompiledPolicy, subject: Agent, only: frozenset[str] | None = None
) -> tuple[list[Rule], tuple[Capability, ...], _Restriction]:
    """The subject's candidate rules, its capabilities (those in `only`, when given) and the
    restriction of the schema to them."""
    candidates = policy.candidate_rules(subject.name, subject.kind, tuple(subject.groups))
    admitted = _admitted(policy, candidates, bundle.operations)
    if only is not None:
        admitted = [capability for capability in admitted if capability.operation in only]
    callable_ops = {capability.operation for capability in admitted}
    denying = [
        rule for rule in candidates
        if rule.denied_fields and any(op in callable_ops for op in _covered(policy, rule, bundle.operations))
    ]
    restriction = _Restriction(bundle, callable_ops, denying)
    # An operation whose every field is denied (its type left empty) cannot be called either.
    found = tuple(
        capability for capability in admitted
        if capability.operation.split(".", 1)[1] in (restriction.roots.get(capability.operation.split(".", 1)[0]) or ())
    )
    return candidates, found, restriction


def introspection_of(sdl: str) -> dict[str, Any]:
    """The introspection result (`{"__schema": ...}`) of an own schema's SDL, for GraphQL tooling."""
    # The SDL is printed from a valid schema, restricted so that it stays one (the tests build
    # every own schema strictly): validating it again would only add to the cost.
    schema = build_ast_schema(parse(sdl, no_location=True), assume_valid=True, assume_valid_sdl=True)
    return dict(introspection_from_schema(schema))


def _covered(policy: CompiledPolicy, rule: Rule, operations: Sequence[str]) -> list[str]:
    return [operation for operation in operations if rule.index in policy.rules_for_operation(operation)]


class _Restriction:
    """Which types and fields of the full schema the own schema keeps, and its SDL."""

    def __init__(self, bundle: SchemaBundle, callable_ops: set[str], denying: Sequence[Rule]) -> None:
        self.bundle = bundle
        self.schema = bundle.schema
        self.denying = denying
        self.hidden: set[str] = set()
        roots = (self.schema.query_type, self.schema.mutation_type, self.schema.subscription_type)
        self.root_types = {
            kind: root for kind, root in zip(ROOT_OPERATION_KINDS, roots, strict=True) if root is not None
        }
        self.root_names = {root.name: kind for kind, root in self.root_types.items()}
        self.fields: dict[str, list[str]] = {}  # object and interface type -> kept field names
        for type_ in self.schema.type_map.values():
            if isinstance(type_, GraphQLObjectType | GraphQLInterfaceType) and not type_.name.startswith("__"):
                kind = self.root_names.get(type_.name)
                self.fields[type_.name] = [
                    name for name in type_.fields
                    if (kind is None or f"{kind}.{name}" in callable_ops) and not self._denied(type_, name)
                ]
        self._prune()
        self.roots = {kind: self.fields.get(root.name) for kind, root in self.root_types.items()}

    def _denied(self, parent: GraphQLNamedType, name: str) -> bool:
        info = self.bundle.field_info(parent, name)
        if info is None:
            return False
        # The check matches a field's coordinate and those it stands for through interfaces and
        # unions (SchemaBundle.field_info), so a field denied on an interface goes from its
        # implementations, and one denied on an implementation goes from the interface.
        if any(rule.denies_field(coordinate) for rule in self.denying for coordinate in info.coordinates):
            self.hidden.add(info.coordinate)
            return True
        return False

    def _usable(self, type_: GraphQLNamedType) -> bool:
        if isinstance(type_, GraphQLObjectType | GraphQLInterfaceType):
            return bool(self.fields.get(type_.name))
        if isinstance(type_, GraphQLUnionType):
            return any(self._usable(member) for member in type_.types)
        return True

    def _prune(self) -> None:
        """Drops fields whose type lost every field (or union member) until none does. A field an
        implementation loses goes from its interfaces too: the implementation's type may be narrower
        (`item: Gift` for the interface's `item: Result`) and emptied while the interface's is not."""
        changed = True
        while changed:
            changed = False
            for type_name, names in self.fields.items():
                parent = self.schema.type_map[type_name]
                assert isinstance(parent, GraphQLObjectType | GraphQLInterfaceType)
                kept = [name for name in names if self._usable(get_named_type(parent.fields[name].type))]
                if len(kept) != len(names):
                    self.fields[type_name] = kept
                    changed = True
                for interface in parent.interfaces:
                    lost = [name for name in self.fields[interface.name] if name not in self.fields[type_name]]
                    if lost:
                        self.fields[interface.name] = [n for n in self.fields[interface.name] if n not in lost]
                        changed = True

    def reachable(self) -> dict[str, GraphQLNamedType]:
        """The kept types reachable from the kept roots (and from the arguments of the schema's directives)."""
        seen: dict[str, GraphQLNamedType] = {}
        pending: list[GraphQLNamedType] = [
            root for kind, root in self.root_types.items() if self.roots.get(kind)
        ]
        for directive in self.schema.directives:
            if not is_specified_directive(directive):
                pending.extend(get_named_type(arg.type) for arg in directive.args.values())
        while pending:
            type_ = pending.pop()
            if type_.name in seen or not self._usable(type_):
                continue
            seen[type_.name] = type_
            if isinstance(type_, GraphQLObjectType | GraphQLInterfaceType):
                for name in self.fields[type_.name]:
                    definition = type_.fields[name]
                    pending.append(get_named_type(definition.type))
                    pending.extend(get_named_type(arg.type) for arg in definition.args.values())
                pending.extend(type_.interfaces)
            if isinstance(type_, GraphQLInterfaceType):
                pending.extend(self.schema.get_possible_types(type_))
            if isinstance(type_, GraphQLUnionType):
                pending.extend(type_.types)
            if isinstance(type_, GraphQLInputObjectType):
                pending.extend(get_named_type(field.type) for field in type_.fields.values())
        return seen

    def visibility(self, kept: dict[str, GraphQLNamedType], definitions: Sequence[DefinitionNode]) -> Visibility:
        """What the own schema shows (`definitions`: its SDL's, of `kept`), as a schema with every
        root type of the full schema (without fields when the agent may call none of its fields),
        so that a document asking one reads as it would for a root field that does not exist."""
        with_roots = {**kept, **{root.name: root for root in self.root_types.values()}}
        empty_roots = [self._definition(root, with_roots) for root in self.root_types.values() if root.name not in kept]
        schema_node = self._schema_definition(all_roots=True)
        nodes = [
            *([schema_node] if schema_node else []),
            *(node for node in definitions if not isinstance(node, SchemaDefinitionNode)),
            *(node for node in empty_roots if node is not None),
        ]
        schema_types = {
            name: list(type_.fields) if isinstance(type_, GraphQLObjectType | GraphQLInterfaceType) else None
            for name, type_ in self.schema.type_map.items()
        }
        return visibility_of(schema_types, self.fields, list(with_roots), nodes)

    def definitions(self, kept: dict[str, GraphQLNamedType]) -> list[DefinitionNode]:
        """The definition nodes of the SDL of the kept, reachable types (`kept`: reachable()), with
        their directive uses and the definitions these need."""
        definitions: list[DefinitionNode] = []
        for name in sorted(kept):
            type_ = kept[name]
            if isinstance(type_, GraphQLScalarType) and is_specified_scalar_type(type_):
                continue
            node = self._definition(type_, kept)
            if node is not None:
                definitions.append(node)
        # Every directive the schema defines is kept, those gqlgov reads (GQLGOV_DIRECTIVES) among
        # them: kept fields may use any, and finding which ones they use cost a third of the build.
        directive_nodes: list[DefinitionNode] = [
            directive.ast_node
            for directive in self.schema.directives
            if not is_specified_directive(directive) and directive.ast_node is not None
        ]
        schema_node = self._schema_definition()
        return [*([schema_node] if schema_node else []), *directive_nodes, *definitions]

    def _schema_definition(self, all_roots: bool = False) -> SchemaDefinitionNode | None:
        """A schema block when a kept root type has a name other than the default one."""
        kinds = [kind for kind, root in self.root_types.items() if all_roots or self.roots.get(kind)]
        if all(self.root_types[kind].name == kind.capitalize() for kind in kinds):
            return None
        return SchemaDefinitionNode(directives=(), operation_types=tuple(
            OperationTypeDefinitionNode(
                operation=OperationType(kind), type=NamedTypeNode(name=NameNode(value=self.root_types[kind].name))
            )
            for kind in kinds
        ))

    def _definition(self, type_: GraphQLNamedType, kept: dict[str, GraphQLNamedType]) -> TypeDefinitionNode | None:
        """One definition node per kept type: its definition and extensions merged, hidden parts left out."""
        node = type_.ast_node
        if node is None:
            return None
        extensions = (node, *type_.extension_ast_nodes)
        directives = tuple(d for n in extensions for d in (getattr(n, "directives", None) or ()))
        common: dict[str, Any] = {"name": node.name, "description": node.description, "directives": directives}
        if isinstance(type_, GraphQLObjectType | GraphQLInterfaceType):
            fields = tuple(
                field_node for name in self.fields[type_.name]
                if isinstance(field_node := type_.fields[name].ast_node, FieldDefinitionNode)
            )
            interfaces = tuple(
                NamedTypeNode(name=NameNode(value=interface.name)) for interface in type_.interfaces
                if interface.name in kept
            )
            cls = ObjectTypeDefinitionNode if isinstance(type_, GraphQLObjectType) else InterfaceTypeDefinitionNode
            return cls(**common, fields=fields, interfaces=interfaces)
        if isinstance(type_, GraphQLUnionType):
            members = tuple(NamedTypeNode(name=NameNode(value=m.name)) for m in type_.types if m.name in kept)
            return UnionTypeDefinitionNode(**common, types=members)
        if isinstance(type_, GraphQLEnumType):
            values = tuple(v.ast_node for v in type_.values.values() if v.ast_node is not None)
            return EnumTypeDefinitionNode(**common, values=values)
        if isinstance(type_, GraphQLInputObjectType):
            input_fields = tuple(f.ast_node for f in type_.fields.values() if f.ast_node is not None)
            return InputObjectTypeDefinitionNode(**common, fields=input_fields)
        return ScalarTypeDefinitionNode(**common)


def _header(
    title: str,
    policy: CompiledPolicy,
    found: Sequence[Capability],
    rate_limits: Sequence[tuple[str | None, RateLimit]],
) -> str:
    """The leading comment: what limits and rate limits apply to the operations below."""
    lines = [title] if title else []
    defaults = policy.default_limits.as_dict()
    lines.append("Limits by default: " + (_limits_text(defaults) if defaults else "none beyond the server's caps"))
    groups: dict[tuple[str, tuple[str, ...], tuple[tuple[str, int], ...]], list[str]] = {}
    for capability in found:
        key = (capability.effect, capability.conditions, tuple(capability.limits.items()))
        groups.setdefault(key, []).append(capability.operation)
    for (effect, conditions, limits), operations in groups.items():
        when = f", under conditions ({', '.join(conditions)})" if conditions else ""
        shown = ", ".join(operations[:10]) + (f" and {len(operations) - 10} more" if len(operations) > 10 else "")
        lines.append(f"{effect}{when}: {shown}; limits: {_limits_text(dict(limits)) or 'none'}")
    if rate_limits:
        lines.append("Rate limits: " + "; ".join(
            f"{limit.limit} {limit.kind} per {limit.per} (burst {limit.burst})"
            + (f" [rule {rule_id}]" if rule_id else " [default]")
            for rule_id, limit in rate_limits
        ))
    else:
        lines.append("Rate limits: none")
    return "".join(f"# {line}\n" for line in lines) + "\n"


def _limits_text(limits: dict[str, int]) -> str:
    return ", ".join(f"{dimension} {value}" for dimension, value in limits.items())


__all__ = [
    "GQLGOV_DIRECTIVES", "Capability", "OwnSchema", "capabilities", "condition_kinds", "introspection_of", "own_schema",
]
