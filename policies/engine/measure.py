"""Measuring a document: depth, aliases, directives and static cost (IBM/Apollo rules), root
fields with their arguments and the schema coordinates they select.

Each fragment is walked once per sizing context and its measure reused wherever it is spread,
merging repeated spreads and same-named fields the way execution does, so a fragment bomb is
measured in microseconds and never expanded.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    BooleanValueNode,
    DirectiveNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLNamedType,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionNode,
    get_named_type,
)

from .reasons import Path
from .schema import FieldInfo, ListSize, SchemaBundle
from .values import MISSING, to_json


@dataclass(frozen=True, slots=True)
class RootField:
    """One root field of the selected operation (same-keyed selections merged)."""

    name: str
    response_key: str
    operation: str  # "query.orders"
    arguments: Mapping[str, Any]  # JSON-like, variables and SDL defaults substituted
    # Every schema coordinate selected under this root field (itself included), with the first
    # response path that reaches it.
    coordinates: Mapping[str, Path]

    @property
    def path(self) -> Path:
        return (self.response_key,)

    @property
    def governed(self) -> bool:
        """Meta fields (__typename, __schema, __type) need no rule; introspection has its own switch."""
        return not self.name.startswith("__")


def depth_of(path: Path) -> int:
    """The depth of the field at response path `path`: the fields on the path, the root field
    counting 1 (fragments add none). A document's depth is that of its deepest field."""
    return len(path)


# Schema coordinate -> the first response path that selects it.
_Coordinates = dict[str, Path]


@dataclass(slots=True)
class _Measure:
    """Depth, aliases, directives and cost of a selection."""

    depth: int = 0
    aliases: int = 0
    directives: int = 0
    cost: float = 0.0

    def add(self, other: _Measure, cost_factor: float = 1.0) -> None:
        self.depth = max(self.depth, other.depth)
        self.aliases += other.aliases
        self.directives += other.directives
        self.cost += other.cost * cost_factor


@dataclass(slots=True)
class _FragmentMeasure(_Measure):
    """A fragment's measure and the coordinates it selects, paths relative to its spread."""

    coordinates: _Coordinates = field(default_factory=dict)


_LEAF = _Measure()  # what a field without a selection set contains (never mutated)


@dataclass(frozen=True, slots=True)
class _Sizing:
    """A list size handed down by a @listSize(sizedFields:) on an ancestor field."""

    size: float | None
    paths: tuple[tuple[str, ...], ...]


@dataclass(slots=True)
class _FieldGroup:
    """Selections of one field under one response key, merged as execution merges them."""

    parent: GraphQLNamedType | None
    nodes: list[FieldNode]
    skipped: bool  # every node carries a literal @skip(if: true) / @include(if: false)


class FragmentMemo:
    """Fragment measures kept across walks of one document shape (shapes.py): a fragment's measure
    depends only on its sizing and on the values that drive cost inside it, which `key` names
    (None: not to be kept). Measures are never changed once made, so walks may share them."""

    def __init__(self, key: Callable[[str, Any], Hashable | None], measures: dict[Hashable, Any],
                 capacity: int) -> None:
        self.key = key
        self.measures = measures
        self.capacity = capacity


class Walker:
    def __init__(
        self,
        bundle: SchemaBundle,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
        default_list_size: int,
        literals: Mapping[int, Any] | None = None,
        fragment_memo: FragmentMemo | None = None,
    ) -> None:
        self.bundle = bundle
        self.fragments = fragments
        self.variables = variables
        self.literals = literals  # literal node id -> value sent instead (see values.to_json)
        self.fragment_memo = fragment_memo
        self.default_list_size = default_list_size
        self.fragment_measures: dict[tuple[str, _Sizing | None], _FragmentMeasure] = {}
        self.in_progress: set[tuple[str, _Sizing | None]] = set()
        # The response key selected most often in one selection set, and how often.
        self.most_repeated: tuple[str, int] = ("", 0)

    def measure_root(
        self,
        root_type: GraphQLNamedType | None,
        operation: OperationDefinitionNode,
        operation_type: str,
    ) -> tuple[tuple[RootField, ...], _Measure]:
        groups: dict[tuple[str, str], _FieldGroup] = {}
        spreads: dict[str, bool] = {}
        total = _Measure(
            directives=len(operation.directives or ())
            + sum(len(definition.directives or ()) for definition in operation.variable_definitions or ())
        )
        # Root fields reached through fragments are root fields too, so the root inlines its
        # spreads (each fragment once, as execution does) instead of measuring them opaquely.
        total.directives += self._collect(
            root_type, operation.selection_set.selections, False, groups, spreads, inline_spreads=set()
        )
        root_fields = []
        for (_, key), group in groups.items():
            self._note_repeats(key, group)
            coordinates: _Coordinates = {}
            measure, arguments = self._measure_field(group, key, None, coordinates, ())
            total.add(measure)
            name = group.nodes[0].name.value
            root_fields.append(
                RootField(
                    name=name,
                    response_key=key,
                    operation=f"{operation_type}.{name}",
                    arguments=arguments,
                    coordinates=coordinates,
                )
            )
        return tuple(root_fields), total

    def root_selections(
        self, root_type: GraphQLNamedType | None, operation: OperationDefinitionNode
    ) -> list[tuple[FieldNode, FieldInfo | None]]:
        """Each root field's first selection and its schema field, in `measure_root`'s order: the
        arguments of a root field are those of its first selection."""
        groups: dict[tuple[str, str], _FieldGroup] = {}
        self._collect(root_type, operation.selection_set.selections, False, groups, {}, inline_spreads=set())
        return [
            (group.nodes[0], self.bundle.field_info(group.parent, group.nodes[0].name.value) if group.parent else None)
            for group in groups.values()
        ]

    def _note_repeats(self, key: str, group: _FieldGroup) -> None:
        if len(group.nodes) > self.most_repeated[1]:
            self.most_repeated = (key, len(group.nodes))

    def _collect(
        self,
        parent: GraphQLNamedType | None,
        selections: Sequence[SelectionNode],
        skipped: bool,
        groups: dict[tuple[str, str], _FieldGroup],
        spreads: dict[str, bool],
        inline_spreads: set[str] | None,
    ) -> int:
        """Group `selections` by response key into `groups`; returns the directives counted.

        Fragment spreads go to `spreads` (name -> every spread literally skipped), unless
        `inline_spreads` is given: then each fragment is collected in place once.
        """
        directives = 0
        schema = self.bundle.schema
        for selection in selections:
            directives += len(selection.directives or ())
            selection_skipped = skipped or _literally_skipped(selection.directives)
            if isinstance(selection, FieldNode):
                key = selection.alias.value if selection.alias else selection.name.value
                group_key = (parent.name if parent else "", key)
                group = groups.get(group_key)
                if group is None:
                    group = groups[group_key] = _FieldGroup(parent, [], True)
                group.nodes.append(selection)
                group.skipped = group.skipped and selection_skipped
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                fragment_type = schema.get_type(condition.name.value) if condition else parent
                directives += self._collect(
                    fragment_type,
                    selection.selection_set.selections,
                    selection_skipped,
                    groups,
                    spreads,
                    inline_spreads,
                )
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if inline_spreads is None:
                    spreads[name] = spreads.get(name, True) and selection_skipped
                elif name not in inline_spreads and name in self.fragments:
                    inline_spreads.add(name)
                    fragment = self.fragments[name]
                    directives += len(fragment.directives or ()) + self._collect(
                        schema.get_type(fragment.type_condition.name.value),
                        fragment.selection_set.selections,
                        selection_skipped,
                        groups,
                        spreads,
                        inline_spreads,
                    )
        return directives

    def _measure_selections(
        self,
        parent: GraphQLNamedType | None,
        selections: Sequence[SelectionNode],
        sizing: _Sizing | None,
        coordinates: _Coordinates,
        path: Path,
    ) -> _Measure:
        """The measure of `selections` at `path`; the coordinates they select go to `coordinates`."""
        groups: dict[tuple[str, str], _FieldGroup] = {}
        spreads: dict[str, bool] = {}
        measure = _Measure(directives=self._collect(parent, selections, False, groups, spreads, None))
        for (_, key), group in groups.items():
            self._note_repeats(key, group)
            measure.add(self._measure_field(group, key, sizing, coordinates, path)[0])
        for name, skipped in spreads.items():
            fragment = self._measure_fragment(name, sizing)
            measure.add(fragment, 0.0 if skipped else 1.0)
            for coordinate, relative in fragment.coordinates.items():
                if coordinate not in coordinates:
                    coordinates[coordinate] = path + relative
        return measure

    def _measure_fragment(self, name: str, sizing: _Sizing | None) -> _FragmentMeasure:
        key = (name, sizing)
        measured = self.fragment_measures.get(key)
        if measured is not None:
            return measured
        memo = self.fragment_memo
        memo_key = memo.key(name, sizing) if memo is not None else None
        if memo is not None and memo_key is not None:
            shared: _FragmentMeasure | None = memo.measures.get(memo_key)
            if shared is not None:
                self.fragment_measures[key] = shared
                return shared
        fragment = self.fragments.get(name)
        if fragment is None or key in self.in_progress:
            # An unknown fragment or a cycle: validation reports it; measure it as empty.
            return _FragmentMeasure()
        self.in_progress.add(key)
        coordinates: _Coordinates = {}
        inner = self._measure_selections(
            self.bundle.schema.get_type(fragment.type_condition.name.value),
            fragment.selection_set.selections,
            sizing,
            coordinates,
            (),
        )
        measured = _FragmentMeasure(
            inner.depth,
            inner.aliases,
            inner.directives + len(fragment.directives or ()),
            inner.cost,
            coordinates,
        )
        self.in_progress.discard(key)
        self.fragment_measures[key] = measured
        if memo is not None and memo_key is not None and len(memo.measures) < memo.capacity:
            memo.measures[memo_key] = measured
        return measured

    def _measure_field(
        self,
        group: _FieldGroup,
        key: str,
        sizing: _Sizing | None,
        coordinates: _Coordinates,
        path: Path,
    ) -> tuple[_Measure, dict[str, Any]]:
        """The measure of one merged field under `path`, and its arguments."""
        first = group.nodes[0]
        name = first.name.value
        info = self.bundle.field_info(group.parent, name) if group.parent is not None else None
        provided, arguments = field_arguments(first, info, self.variables, self.literals)
        here = (*path, key)
        own_size = self._own_size(info, arguments, provided, group.nodes, here) if info and info.list_size else None
        child_sizing = _child_sizing(info, own_size, name, sizing)
        for coordinate in info.coordinates if info else ():
            if coordinate not in coordinates:
                coordinates[coordinate] = here
        children = [
            s for node in group.nodes if node.selection_set is not None for s in node.selection_set.selections
        ]
        child = (
            self._measure_selections(info.type if info else None, children, child_sizing, coordinates, here)
            if children
            else _LEAF
        )

        measure = _Measure(
            depth=1 + child.depth,  # each field adds one level: the document's depth is max depth_of(path)
            aliases=child.aliases + sum(1 for node in group.nodes if node.alias is not None),
            directives=child.directives,
        )
        if info is not None and not group.skipped:
            count = 1.0
            if info.is_list:
                upstream = sizing.size if sizing and (name,) in sizing.paths else None
                size = next((s for s in (upstream, own_size) if s is not None), None)
                count = float(self.default_list_size if size is None else size)
            # Clamped at zero, as graphql-query-complexity does ("should not allow negative cost"): a
            # negative @cost must not let a field pay for (hide) the cost of its siblings.
            measure.cost = max(0.0, count * (info.weight + child.cost) + self._arguments_cost(info, provided))
        return measure, arguments

    def _own_size(self, info: FieldInfo, arguments: Mapping[str, Any], provided: Mapping[str, Any],
                  nodes: Sequence[FieldNode], path: Path) -> float | None:
        """The size a list field's @listSize gives it (slicing arguments, else assumedSize); the
        slicing search (slicing.py) overrides it to try lower slicing values."""
        assert info.list_size is not None
        return _expected_size(info.list_size, arguments)

    def _arguments_cost(self, info: FieldInfo, provided: Mapping[str, Any]) -> float:
        cost = 0.0
        for name, value in provided.items():
            definition = info.arguments.get(name)
            if definition is not None:
                cost += self._input_cost(value, definition[0], definition[1])
        return cost

    def _input_cost(self, value: Any, type_: GraphQLInputType, weight: float | None) -> float:
        """Apollo's input cost: each input object 1 (or its @cost), plus @cost of what is set."""
        named = get_named_type(type_)
        if value is None or (weight is None and not isinstance(named, GraphQLInputObjectType)):
            return 0.0  # also spares walking a 100,000-item list of IDs
        if isinstance(value, list):
            return (weight or 0.0) + sum(self._input_cost(item, type_, weight) for item in value)
        if isinstance(value, dict) and isinstance(named, GraphQLInputObjectType):
            cost = 1.0 if weight is None else weight
            weights = self.bundle.argument_weights
            for name, item in value.items():
                input_field = named.fields.get(name)
                if input_field is not None:
                    cost += self._input_cost(item, input_field.type, weights.get(f"{named.name}.{name}"))
            return cost
        return weight or 0.0


def field_arguments(
    node: FieldNode, info: FieldInfo | None, variables: Mapping[str, Any], literals: Mapping[int, Any] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The arguments `node` gives (variables and `literals` substituted, unsupplied variables left
    out), and those with the SDL defaults of the others completed: what rules and cost see."""
    provided = {argument.name.value: to_json(argument.value, variables, literals) for argument in node.arguments or ()}
    provided = {arg: value for arg, value in provided.items() if value is not MISSING}
    arguments = dict(provided)
    if info is not None:
        for arg, default in info.argument_defaults.items():
            arguments.setdefault(arg, default)
    return provided, arguments


def _literally_skipped(directives: tuple[DirectiveNode, ...] | None) -> bool:
    """A literal @skip(if: true) or @include(if: false): the selection can never execute."""
    for directive in directives or ():
        name = directive.name.value
        arguments = directive.arguments or ()
        if name in ("skip", "include") and len(arguments) == 1:
            condition = arguments[0].value
            if isinstance(condition, BooleanValueNode) and condition.value is (name == "skip"):
                return True
    return False


# Costs beyond this (2**53, the largest integer JSON readers keep exact) are reported as it;
# no budget comes near, and it keeps infinities and NaN out of metrics.
COST_CEILING = float(2**53)


def bounded_cost(cost: float) -> float:
    return cost if cost <= COST_CEILING else COST_CEILING  # NaN fails the test too


def _expected_size(
    list_size: ListSize,
    arguments: Mapping[str, Any],
    cap: float | None = None,
    cappable: Collection[str] = (),
    capped: list[str] | None = None,
) -> float | None:
    """The largest slicing argument given (a list argument counts its items), else assumedSize.

    With a `cap`, the `cappable` top-level slicing arguments count at most `cap` (those lowered are
    appended to `capped`): the size the list would have with them lowered to it."""
    sizes: list[float] = []
    for path in list_size.slicing_arguments:
        value: Any = arguments
        for step in path:
            value = value.get(step) if isinstance(value, dict) else None
        size = _size_of(value)
        if size is not None:
            if cap is not None and size > cap and len(path) == 1 and path[0] in cappable:
                size = cap
                if capped is not None:
                    capped.append(path[0])
            sizes.append(size)
    if sizes:
        return max(sizes)
    return list_size.assumed_size


def _size_of(value: Any) -> float | None:
    """A slicing argument's value as a list size, or None when it gives none."""
    if isinstance(value, list):
        return float(len(value))
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    # Numbers a JSON parser accepts but GraphQL would not (NaN, inf, 10**400) size the list
    # as hugely as possible rather than raising or comparing false against every limit.
    if value != value or value > COST_CEILING:
        return COST_CEILING
    return max(float(value), 0.0)


def _child_sizing(
    info: FieldInfo | None, own_size: float | None, name: str, sizing: _Sizing | None
) -> _Sizing | None:
    """The sizing the children of field `name` inherit: its own sizedFields, else its ancestors'."""
    if info is not None and info.list_size is not None and info.list_size.sized_fields:
        return _Sizing(own_size, info.list_size.sized_fields)
    if sizing is None:
        return None
    rest = tuple(path[1:] for path in sizing.paths if len(path) > 1 and path[0] == name)
    return _Sizing(sizing.size, rest) if rest else None
