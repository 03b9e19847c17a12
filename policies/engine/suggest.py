"""Suggested queries: the agent's document with the fields it may not have left out."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLNamedType,
    InlineFragmentNode,
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

# Fragments are inlined into the suggestion; give up rather than expand a fragment bomb.
MAX_SUGGESTED_SELECTIONS = 2_000

# (root response key, the coordinates of a field) -> must the field go?
ForbiddenTest = Callable[[str, Sequence[str]], bool]


class _TooLarge(Exception):
    pass


def prune_document(
    analysis: Analysis,
    *,
    max_depth: int | None,
    drop_introspection: bool,
    is_forbidden: ForbiddenTest,
) -> tuple[str, dict[str, Any], list[Path]] | None:
    """(query, its variables, removed paths), or None when nothing useful remains to suggest."""
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
    pruner = _Pruner(request.bundle, fragments, max_depth, drop_introspection, is_forbidden)
    root_type = request.bundle.schema.get_root_type(operation.operation)
    try:
        selections = pruner.prune(root_type, operation.selection_set.selections, None, (), frozenset())
    except (_TooLarge, RecursionError):
        return None
    if not selections or not pruner.removed:
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
    query = print_ast(DocumentNode(definitions=(pruned,)))
    variables = {name: value for name, value in request.variables.items() if name in used}
    return query, variables, list(dict.fromkeys(pruner.removed))


def _variables_used(selections: Sequence[SelectionNode]) -> set[str]:
    used: set[str] = set()

    class Collector(Visitor):
        def enter_variable(self, node: VariableNode, *_: Any) -> None:
            used.add(node.name.value)

    for selection in selections:
        visit(selection, Collector())
    return used


class _Pruner:
    def __init__(
        self,
        bundle: SchemaBundle,
        fragments: Mapping[str, FragmentDefinitionNode],
        max_depth: int | None,
        drop_introspection: bool,
        is_forbidden: ForbiddenTest,
    ) -> None:
        self.bundle = bundle
        self.fragments = fragments
        self.max_depth = max_depth
        self.drop_introspection = drop_introspection
        self.is_forbidden = is_forbidden
        self.removed: list[Path] = []
        self.kept = 0

    def prune(
        self,
        parent: GraphQLNamedType | None,
        selections: Sequence[SelectionNode],
        root_key: str | None,
        path: Path,
        expanding: frozenset[str],
    ) -> list[SelectionNode]:
        """`selections` without the fields that must go, fragments inlined."""
        kept: list[SelectionNode] = []
        for selection in selections:
            if isinstance(selection, FieldNode):
                pruned_field = self._prune_field(parent, selection, root_key, path, expanding)
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
                if fragment is None or fragment.name.value in expanding:
                    continue  # unknown or cyclic: nothing to inline
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
            children = self.prune(fragment_type, inner.selections, root_key, path, inside)
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
    ) -> FieldNode | None:
        key = node.alias.value if node.alias else node.name.value
        here = (*path, key)
        root = root_key or key
        info = self.bundle.field_info(parent, node.name.value) if parent is not None else None
        if (
            (self.max_depth is not None and depth_of(here) > self.max_depth)
            or (self.drop_introspection and node.name.value in INTROSPECTION_FIELDS)
            or (info is not None and self.is_forbidden(root, info.coordinates))
        ):
            self.removed.append(here)
            return None
        self.kept += 1
        if self.kept > MAX_SUGGESTED_SELECTIONS:
            raise _TooLarge
        if node.selection_set is None:
            return node
        children = self.prune(
            info.type if info else None, node.selection_set.selections, root, here, expanding
        )
        if not children:
            self.removed.append(here)
            return None
        return FieldNode(
            alias=node.alias,
            name=node.name,
            arguments=node.arguments,
            directives=node.directives,
            selection_set=SelectionSetNode(selections=tuple(children)),
        )
