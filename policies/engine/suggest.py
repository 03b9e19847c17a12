"""Suggested queries: the agent's document rewritten so that the check passes.

A rewrite leaves out what the policy refuses (forbidden fields, introspection, root fields no rule
admits), what is over a limit (selections deeper than the depth limit, aliases and root fields past
their limits: the first ones are kept) and lowers slicing arguments (slicing.py). Fragments are
inlined; selections left empty are removed up the tree, so the result is still valid GraphQL.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    ArgumentNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLNamedType,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    NameNode,
    OperationDefinitionNode,
    SelectionNode,
    SelectionSetNode,
    VariableNode,
    parse,
    print_ast,
    visit,
)
from graphql.language import Visitor

from .analysis import Analysis
from .measure import depth_of
from .reasons import Path
from .schema import INTROSPECTION_FIELDS, SchemaBundle
from .slicing import SlicingFix, lowered

# Fragments are inlined into the suggestion; give up rather than expand a fragment bomb.
MAX_SUGGESTED_SELECTIONS = 2_000

# (root response key, the coordinates of a field) -> must the field go?
ForbiddenTest = Callable[[str, Sequence[str]], bool]


def _nothing_forbidden(_root: str, _coordinates: Sequence[str]) -> bool:
    return False


@dataclass(frozen=True)
class Cuts:
    """What a rewrite leaves out; the default leaves out nothing (it only inlines fragments)."""

    max_depth: int | None = None
    drop_introspection: bool = False
    is_forbidden: ForbiddenTest = _nothing_forbidden
    drop_roots: frozenset[str] = frozenset()  # root response keys
    max_root_fields: int | None = None
    max_aliases: int | None = None


@dataclass
class Rewrite:
    """The selected operation rewritten (fragments inlined), and what changed, by response path."""

    operation: OperationDefinitionNode
    variables: dict[str, Any]
    removed: list[Path] = field(default_factory=list)
    unaliased: list[Path] = field(default_factory=list)  # fields that lost their alias
    dropped_roots: list[str] = field(default_factory=list)  # over the root field limit
    dropped_aliased: list[Path] = field(default_factory=list)  # aliased fields whose name clashes
    changed_arguments: list[dict[str, Any]] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.removed or self.unaliased or self.changed_arguments)

    def text(self) -> str:
        return print_ast(DocumentNode(definitions=(self.operation,)))


class _TooLarge(Exception):
    pass


def rewrite_document(analysis: Analysis, cuts: Cuts) -> Rewrite | None:
    """The analysed operation with `cuts` applied, or None when nothing would be left (or it is too
    large to inline)."""
    request = analysis.request
    if analysis.parsed:
        document = analysis.parsed[0]
    else:
        try:
            document = parse(request.query)
        except (GraphQLError, RecursionError):
            return None
    operation = next(
        (
            definition
            for definition in document.definitions
            if isinstance(definition, OperationDefinitionNode)
            and (definition.name.value if definition.name else None) == analysis.operation_name
        ),
        None,
    )
    if operation is None:
        return None
    fragments = {
        definition.name.value: definition
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    pruner = _Pruner(request.bundle, fragments, cuts)
    root_type = request.bundle.schema.get_root_type(operation.operation)
    try:
        roots = operation.selection_set.selections
        selections = pruner.prune(root_type, roots, None, (), frozenset(), _Level(roots))
    except (_TooLarge, RecursionError):
        return None
    if not selections:
        return None
    used = _variables_used(selections)
    pruned = OperationDefinitionNode(
        operation=operation.operation,
        name=operation.name,
        variable_definitions=tuple(
            definition
            for definition in operation.variable_definitions or ()
            if definition.variable.name.value in used
        ),
        directives=operation.directives,
        selection_set=SelectionSetNode(selections=tuple(selections)),
    )
    variables = {name: value for name, value in request.variables.items() if name in used}
    return Rewrite(
        pruned,
        variables,
        removed=list(dict.fromkeys(pruner.removed)),
        unaliased=pruner.unaliased,
        dropped_roots=pruner.dropped_roots,
        dropped_aliased=pruner.dropped_aliased,
    )


def with_slicing(rewrite: Rewrite, fix: SlicingFix, coerced: Mapping[str, Any]) -> Rewrite:
    """`rewrite` with the slicing arguments of `fix` lowered to its cap: literals replaced, omitted
    arguments added, variables (`coerced`: as the measure saw them) sent with the lower value."""
    targets: dict[int, set[str]] = {}
    variables = dict(rewrite.variables)
    changes = []
    for site in fix.sites:
        for node in site.nodes:
            targets.setdefault(id(node), set()).add(site.argument)
        if site.variable is not None:  # also one whose declared default applied: send the lower value
            variables[site.variable] = lowered(coerced.get(site.variable, fix.cap), fix.cap)
        changes.append({"path": list(site.path), "argument": site.argument, "value": fix.cap,
                        "variable": site.variable})
    selections = _with_arguments(rewrite.operation.selection_set.selections, targets, fix.cap)
    operation = OperationDefinitionNode(
        operation=rewrite.operation.operation,
        name=rewrite.operation.name,
        variable_definitions=rewrite.operation.variable_definitions,
        directives=rewrite.operation.directives,
        selection_set=SelectionSetNode(selections=tuple(selections)),
    )
    return Rewrite(operation, variables, rewrite.removed, rewrite.unaliased, rewrite.dropped_roots,
                   rewrite.dropped_aliased, [*rewrite.changed_arguments, *changes])


def _with_arguments(
    selections: Sequence[SelectionNode], targets: Mapping[int, set[str]], cap: int
) -> list[SelectionNode]:
    result: list[SelectionNode] = []
    for selection in selections:
        if isinstance(selection, InlineFragmentNode):
            inner = _with_arguments(selection.selection_set.selections, targets, cap)
            result.append(InlineFragmentNode(type_condition=selection.type_condition, directives=selection.directives,
                                             selection_set=SelectionSetNode(selections=tuple(inner))))
        elif isinstance(selection, FieldNode):
            arguments = selection.arguments
            if id(selection) in targets:
                arguments = _capped_arguments(selection, targets[id(selection)], cap)
            children = selection.selection_set
            if children is not None:
                children = SelectionSetNode(selections=tuple(_with_arguments(children.selections, targets, cap)))
            result.append(FieldNode(alias=selection.alias, name=selection.name, arguments=arguments,
                                    directives=selection.directives, selection_set=children))
    return result


def _capped_arguments(node: FieldNode, names: set[str], cap: int) -> tuple[ArgumentNode, ...]:
    arguments = []
    for argument in node.arguments or ():
        value = argument.value
        if argument.name.value in names and not isinstance(value, VariableNode):
            value = ListValueNode(values=value.values[:cap]) if isinstance(value, ListValueNode) else IntValueNode(
                value=str(cap))
        arguments.append(ArgumentNode(name=argument.name, value=value))
    given = {argument.name.value for argument in node.arguments or ()}
    arguments.extend(
        ArgumentNode(name=NameNode(value=name), value=IntValueNode(value=str(cap)))
        for name in sorted(names - given)
    )
    return tuple(arguments)


def _variables_used(selections: Sequence[SelectionNode]) -> set[str]:
    used: set[str] = set()

    class Collector(Visitor):
        def enter_variable(self, node: VariableNode, *_: Any) -> None:
            used.add(node.name.value)

    for selection in selections:
        visit(selection, Collector())
    return used


@dataclass
class _Level:
    """One merged selection set: a field's selections with the inline fragments and spreads in them."""

    selections: Sequence[SelectionNode]
    spreads: set[str] = field(default_factory=set)  # fragments inlined here: a repeated spread adds nothing
    keys: set[str] | None = None  # response keys selected here, computed when an alias must go


class _Pruner:
    def __init__(self, bundle: SchemaBundle, fragments: Mapping[str, FragmentDefinitionNode], cuts: Cuts) -> None:
        self.bundle = bundle
        self.fragments = fragments
        self.cuts = cuts
        self.removed: list[Path] = []
        self.unaliased: list[Path] = []
        self.dropped_roots: list[str] = []
        self.dropped_aliased: list[Path] = []
        self.kept = 0
        self.aliases = 0
        self.root_keys: list[str] = []

    def prune(
        self,
        parent: GraphQLNamedType | None,
        selections: Sequence[SelectionNode],
        root_key: str | None,
        path: Path,
        expanding: frozenset[str],
        level: _Level,
    ) -> list[SelectionNode]:
        """`selections` without the fields that must go, fragments inlined."""
        kept: list[SelectionNode] = []
        for selection in selections:
            if isinstance(selection, FieldNode):
                pruned_field = self._prune_field(parent, selection, root_key, path, expanding, level)
                if pruned_field is not None:
                    kept.append(pruned_field)
                continue
            if isinstance(selection, InlineFragmentNode):
                condition, inner, directives = (
                    selection.type_condition,
                    selection.selection_set,
                    selection.directives,
                )
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                if fragment is None or fragment.name.value in expanding or fragment.name.value in level.spreads:
                    continue  # unknown, cyclic, or already inlined here (execution merges it)
                level.spreads.add(fragment.name.value)
                condition, inner, directives = (
                    fragment.type_condition,
                    fragment.selection_set,
                    selection.directives,
                )
            else:
                continue
            fragment_type = self.bundle.schema.get_type(condition.name.value) if condition else parent
            inside = (
                expanding | {selection.name.value} if isinstance(selection, FragmentSpreadNode) else expanding
            )
            children = self.prune(fragment_type, inner.selections, root_key, path, inside, level)
            if children:
                kept.append(
                    InlineFragmentNode(
                        type_condition=condition,
                        directives=directives,
                        selection_set=SelectionSetNode(selections=tuple(children)),
                    )
                )
        return kept

    def _prune_field(
        self,
        parent: GraphQLNamedType | None,
        node: FieldNode,
        root_key: str | None,
        path: Path,
        expanding: frozenset[str],
        level: _Level,
    ) -> FieldNode | None:
        key = node.alias.value if node.alias else node.name.value
        here = (*path, key)
        root = root_key or key
        info = self.bundle.field_info(parent, node.name.value) if parent is not None else None
        cuts = self.cuts
        if (
            (cuts.max_depth is not None and depth_of(here) > cuts.max_depth)
            or (cuts.drop_introspection and node.name.value in INTROSPECTION_FIELDS)
            or (info is not None and cuts.is_forbidden(root, info.coordinates))
            or (root_key is None and key in cuts.drop_roots)
        ):
            self.removed.append(here)
            return None
        alias = node.alias
        if alias is not None and cuts.max_aliases is not None and self.aliases >= cuts.max_aliases:
            if not self._may_unalias(node, expanding, level):
                self.dropped_aliased.append(here)
                self.removed.append(here)
                return None
            alias = None
        self.kept += 1
        if self.kept > MAX_SUGGESTED_SELECTIONS:
            raise _TooLarge
        reserved = int(alias is not None)  # counted before its children, so that they see it
        self.aliases += reserved
        children: tuple[SelectionNode, ...] | None = None
        if node.selection_set is not None:
            inner = node.selection_set.selections
            children = tuple(self.prune(info.type if info else None, inner, root, here, expanding, _Level(inner)))
        if children == () or (root_key is None and not self._room_for_root(key)):
            if children != ():
                self.dropped_roots.append(key)
            self.aliases -= reserved
            self.removed.append(here)
            return None
        if alias is not node.alias:
            self.unaliased.append(here)
        if children is None and alias is node.alias:
            return node
        return FieldNode(
            alias=alias,
            name=node.name,
            arguments=node.arguments,
            directives=node.directives,
            selection_set=SelectionSetNode(selections=children) if children is not None else None,
        )

    def _room_for_root(self, key: str) -> bool:
        """Root fields past the limit go (the first ones stay); one key selected twice counts once."""
        if key in self.root_keys:
            return True
        if self.cuts.max_root_fields is not None and len(self.root_keys) >= self.cuts.max_root_fields:
            return False
        self.root_keys.append(key)
        return True

    def _may_unalias(self, node: FieldNode, expanding: frozenset[str], level: _Level) -> bool:
        """Whether the field may take its own name as response key: no other selection of this
        selection set answers under that name (nor another field already unaliased here)."""
        if level.keys is None:
            level.keys = set()
            self._collect_keys(level.selections, expanding, level.keys)
        name = node.name.value
        if name in level.keys:
            return False
        level.keys.add(name)
        return True

    def _collect_keys(self, selections: Sequence[SelectionNode], expanding: frozenset[str], keys: set[str]) -> None:
        for selection in selections:
            if isinstance(selection, FieldNode):
                keys.add(selection.alias.value if selection.alias else selection.name.value)
            elif isinstance(selection, InlineFragmentNode):
                self._collect_keys(selection.selection_set.selections, expanding, keys)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                if fragment is not None and fragment.name.value not in expanding:
                    self._collect_keys(fragment.selection_set.selections, expanding | {fragment.name.value}, keys)
