"""Static analysis of a GraphQL document: parse, validate, select the operation, measure it.

The measurement walks each fragment once per sizing context and reuses the result wherever the
fragment is spread, merging repeated spreads and same-named fields the way execution does, so a
fragment bomb is measured in microseconds and never expanded.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    ASTValidationRule,
    BooleanValueNode,
    DeferStreamDirectiveLabel,
    DeferStreamDirectiveOnRootField,
    DeferStreamDirectiveOnValidOperationsRule,
    DirectiveNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLNamedType,
    GraphQLSyntaxError,
    InlineFragmentNode,
    KnownDirectivesRule,
    NoUndefinedVariablesRule,
    NoUnusedVariablesRule,
    OperationDefinitionNode,
    OverlappingFieldsCanBeMergedRule,
    SelectionNode,
    Source,
    StreamDirectiveOnListField,
    UniqueDirectivesPerLocationRule,
    UniqueVariableNamesRule,
    ValidationContext,
    VariablesAreInputTypesRule,
    VariablesInAllowedPositionRule,
    get_named_type,
    specified_rules,
    validate,
)
from graphql.language.parser import Parser

from . import messages, reasons
from . import variables as variables_module
from .limits import DEFAULT_CAPS, DIMENSIONS, METRIC_OF_DIMENSION, Limits
from .reasons import Path, Reason
from .schema import INTROSPECTION_FIELDS, FieldInfo, ListSize, SchemaBundle
from .values import MISSING, to_json


@dataclass(frozen=True, slots=True)
class AnalysisLimits:
    """Bounds applied while analysing, before any policy is consulted."""

    max_document_bytes: int = 64 * 1024
    # Validating hundreds of operations takes graphql-core longer than a check may; agents
    # send one (a few in persisted documents).
    max_operations: int = 50
    # graphql-core compares every pair of same-named fields in a selection set, so
    # `{ order { id } order { id } ... }` costs it quadratic time; no real document repeats
    # one response key that often (fragments that all select `id` stay far below).
    max_repeated_selections: int = 100
    max_validation_errors: int = 20
    # graphql-core's budget for comparing overlapping fields (its default, 500,000, lets one
    # document spend most of a second there).
    validation_budget: int = 20_000
    # Server-wide hard caps: a document over one is refused before validation, and parsing
    # stops at caps.max_tokens.
    caps: Limits = DEFAULT_CAPS


@dataclass(frozen=True, slots=True)
class Metrics:
    depth: int
    aliases: int
    root_fields: int
    tokens: int
    directives: int
    cost: float

    def for_dimension(self, dimension: str) -> int | float:
        value: int | float = getattr(self, METRIC_OF_DIMENSION[dimension])
        return value

    def as_dict(self) -> dict[str, int | float]:
        cost = int(self.cost) if self.cost.is_integer() else self.cost
        return {
            "depth": self.depth,
            "aliases": self.aliases,
            "root_fields": self.root_fields,
            "tokens": self.tokens,
            "directives": self.directives,
            "cost": cost,
        }


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


@dataclass(frozen=True, slots=True)
class AnalysisRequest:
    """The inputs of an analysis, kept to re-analyse a suggested query and to redact."""

    bundle: SchemaBundle
    query: str
    operation_name: str | None
    variables: Mapping[str, Any]
    limits: AnalysisLimits
    default_list_size: int
    mutation_base_cost: int


@dataclass(frozen=True, eq=False)
class Analysis:
    """Everything a decision needs about one document; immutable, so it can be cached and shared."""

    request: AnalysisRequest
    failure: tuple[Reason, ...]  # non-empty when the document cannot be decided on its merits
    metrics: Metrics | None
    operation_name: str | None = None
    operation_type: str | None = None
    root_fields: tuple[RootField, ...] = ()
    introspection_paths: tuple[Path, ...] = ()
    # The variables the selected operation declares: only their values are kept in records.
    declared_variables: frozenset[str] = frozenset()
    approx_size_bytes: int = 0
    # Redaction plans per set of sensitive globs, computed on first use (see redaction.py).
    redaction_plans: dict[tuple[str, ...], Any] = field(default_factory=dict, repr=False, compare=False)
    # The syntax tree, kept only until the first redaction so that a check parses once;
    # a cached analysis then holds no tree (it can be many times the size of the text).
    parsed: list[DocumentNode] = field(default_factory=list, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return not self.failure


def analyze(
    bundle: SchemaBundle,
    query: str,
    *,
    operation_name: str | None = None,
    variables: Mapping[str, Any] | None = None,
    limits: AnalysisLimits = AnalysisLimits(),
    default_list_size: int = 10,
    mutation_base_cost: int = 10,
) -> Analysis:
    """The analysis of `query` against `bundle`; problems become `failure` reasons, never exceptions."""
    request = AnalysisRequest(
        bundle=bundle,
        query=query,
        operation_name=operation_name,
        variables=variables if isinstance(variables, Mapping) else {},
        limits=limits,
        default_list_size=default_list_size,
        mutation_base_cost=mutation_base_cost,
    )
    if not isinstance(query, str):
        return _failed(request, reasons.parse_failed("The query must be a string."))
    if variables is not None and not isinstance(variables, Mapping):
        return _failed(request, reasons.validation_failed("The variables must be a JSON object."))
    size = _utf8_length(query)
    if size > limits.max_document_bytes:
        return _failed(request, reasons.document_too_large(limits.max_document_bytes, size),
                       operation_type=messages.attempted_mutation(query, limits.caps.max_tokens))
    try:
        return _analyze_document(request)
    except RecursionError:
        # Deep fragment chains or variables nested beyond Python's stack; the state of the
        # walk is discarded with the exception.
        return _failed(request, reasons.validation_failed("The document is nested too deeply to analyse."))


def _utf8_length(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def _failed(
    request: AnalysisRequest,
    *failure: Reason,
    metrics: Metrics | None = None,
    document: DocumentNode | None = None,
    operation: OperationDefinitionNode | None = None,
    operation_type: str | None = None,
) -> Analysis:
    """A failed analysis; it keeps the operation's type when known (a failed mutation is audited)."""
    return Analysis(
        request=request,
        failure=failure,
        metrics=metrics,
        operation_name=operation.name.value if operation is not None and operation.name else None,
        operation_type=operation.operation.value if operation is not None else operation_type,
        declared_variables=_declared(operation),
        approx_size_bytes=_approx_size(request, ()),
        parsed=[document] if document else [],
    )


def depth_of(path: Path) -> int:
    """The depth of the field at response path `path`: the fields on the path, the root field
    counting 1 (fragments add none). A document's depth is that of its deepest field."""
    return len(path)


def _declared(operation: OperationDefinitionNode | None) -> frozenset[str]:
    if operation is None:
        return frozenset()
    return frozenset(definition.variable.name.value for definition in operation.variable_definitions or ())


def _analyze_document(request: AnalysisRequest) -> Analysis:
    caps = request.limits.caps
    parser = Parser(Source(request.query), max_tokens=caps.max_tokens)
    try:
        document = parser.parse_document()
    except GraphQLSyntaxError as error:
        if caps.max_tokens is not None and error.message.endswith(
            f"more than {caps.max_tokens} tokens. Parsing aborted."
        ):
            return _failed(request, reasons.limit_exceeded("max_tokens", caps.max_tokens, None, None),
                           operation_type=messages.attempted_mutation(request.query, caps.max_tokens))
        return _failed(request, reasons.parse_failed(messages.located(error)),
                       operation_type=messages.attempted_mutation(request.query, caps.max_tokens))
    except RecursionError:
        return _failed(request, reasons.parse_failed("Syntax Error: Document is nested too deeply."),
                       operation_type=messages.attempted_mutation(request.query, caps.max_tokens))

    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if len(operations) > request.limits.max_operations:
        return _failed(
            request,
            reasons.validation_failed(
                f"The document defines {len(operations)} operations;"
                f" at most {request.limits.max_operations} are accepted."
            ),
        )
    operation = _select_operation(operations, request.operation_name)
    if operation is None:
        names = [op.name.value for op in operations if op.name is not None]
        return _failed(request, reasons.operation_not_found(request.operation_name, names), document=document)

    fragments: dict[str, FragmentDefinitionNode] = {}
    for definition in document.definitions:
        if isinstance(definition, FragmentDefinitionNode):
            fragments.setdefault(definition.name.value, definition)
    variables, variable_problems = variables_module.coerced_variables(
        request.bundle.schema, operation, request.variables, request.limits.max_validation_errors
    )
    walker = _Walker(request.bundle, fragments, variables, request.default_list_size)
    operation_type = operation.operation.value
    root_type = request.bundle.schema.get_root_type(operation.operation)
    root_fields, measured = walker.measure_root(root_type, operation, operation_type)
    base_cost = request.mutation_base_cost if operation_type == "mutation" else 0
    metrics = Metrics(
        depth=measured.depth,
        aliases=measured.aliases,
        root_fields=len(root_fields),
        tokens=document.token_count,
        directives=measured.directives,
        cost=_bounded_cost(measured.cost + base_cost),
    )
    over_caps = [
        reasons.limit_exceeded(dimension, cap, metrics.for_dimension(dimension), None)
        for dimension in DIMENSIONS
        if (cap := caps.get(dimension)) is not None and metrics.for_dimension(dimension) > cap
    ]
    most_repeated, repeats = walker.most_repeated
    if repeats > request.limits.max_repeated_selections:
        over_caps.append(
            reasons.validation_failed(
                f"The document selects {most_repeated!r} {repeats} times in one selection set;"
                f" at most {request.limits.max_repeated_selections} are accepted."
            )
        )
    if over_caps:
        return _failed(request, *over_caps, metrics=metrics, document=document, operation=operation)
    errors = _validate(request, document) or variable_problems
    if errors:
        return _failed(request, *errors, metrics=metrics, document=document, operation=operation)
    introspection = tuple(
        path
        for root in root_fields
        for coordinate, path in root.coordinates.items()
        if coordinate.rpartition(".")[2] in INTROSPECTION_FIELDS
    )
    return Analysis(
        request=request,
        failure=(),
        metrics=metrics,
        operation_name=operation.name.value if operation.name else None,
        operation_type=operation_type,
        root_fields=root_fields,
        introspection_paths=introspection,
        declared_variables=_declared(operation),
        approx_size_bytes=_approx_size(request, root_fields),
        parsed=[document],
    )


def _select_operation(
    operations: list[OperationDefinitionNode], name: str | None
) -> OperationDefinitionNode | None:
    if name is None:
        candidates = operations
    else:
        candidates = [op for op in operations if op.name is not None and op.name.value == name]
    return candidates[0] if len(candidates) == 1 else None


# Rules with nothing to check in a document without a `$` (no variable is defined or used) or
# without an `@` (no directive). The variable rules walk the whole operation a second time to
# collect variable usages, which is ~40% of validating a document that has none.
_VARIABLE_RULES: frozenset[type[ASTValidationRule]] = frozenset(
    {
        VariablesAreInputTypesRule,
        UniqueVariableNamesRule,
        NoUndefinedVariablesRule,
        NoUnusedVariablesRule,
        VariablesInAllowedPositionRule,
    }
)
_DIRECTIVE_RULES: frozenset[type[ASTValidationRule]] = frozenset(
    {
        KnownDirectivesRule,
        UniqueDirectivesPerLocationRule,
        DeferStreamDirectiveLabel,
        DeferStreamDirectiveOnRootField,
        DeferStreamDirectiveOnValidOperationsRule,
        StreamDirectiveOnListField,
    }
)


@functools.cache
def _validation_rules(
    budget: int, *, variables: bool = True, directives: bool = True
) -> tuple[type[ASTValidationRule], ...]:
    """graphql-core's specified rules, with the overlapping-fields rule on a smaller budget,
    without the variable or directive rules when the document has no variable or directive."""

    class BudgetedOverlappingFieldsRule(OverlappingFieldsCanBeMergedRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            self.rule_context.remaining_complexity_budget = budget

    skipped = (frozenset() if variables else _VARIABLE_RULES) | (frozenset() if directives else _DIRECTIVE_RULES)
    return tuple(
        BudgetedOverlappingFieldsRule if rule is OverlappingFieldsCanBeMergedRule else rule
        for rule in specified_rules
        if rule not in skipped
    )


def _validate(request: AnalysisRequest, document: DocumentNode) -> list[Reason]:
    limits = request.limits
    # A `$` or `@` inside a string or comment only keeps rules that then find nothing.
    errors = validate(
        request.bundle.schema,
        document,
        _validation_rules(
            limits.validation_budget, variables="$" in request.query, directives="@" in request.query
        ),
        max_errors=limits.max_validation_errors,
        hide_suggestions=True,  # "Did you mean ...?" would reveal the schema
    )
    return [
        reasons.validation_failed(_ABORTED if error.message == "Validation aborted." else messages.located(error))
        for error in errors
    ]


# graphql-core's bare message when the overlapping-fields budget runs out (or its stack does).
_ABORTED = (
    "Validation aborted: the document is too complex to validate"
    " (it selects the same fields too often, or nests too deeply)."
)


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


class _Walker:
    def __init__(
        self,
        bundle: SchemaBundle,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
        default_list_size: int,
    ) -> None:
        self.bundle = bundle
        self.fragments = fragments
        self.variables = variables
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
        provided = {
            argument.name.value: to_json(argument.value, self.variables) for argument in first.arguments or ()
        }
        provided = {arg: value for arg, value in provided.items() if value is not MISSING}
        arguments = dict(provided)
        if info is not None:
            for arg, default in info.argument_defaults.items():
                arguments.setdefault(arg, default)
        own_size = _expected_size(info.list_size, arguments) if info and info.list_size else None
        child_sizing = _child_sizing(info, own_size, name, sizing)
        here = (*path, key)
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


def _bounded_cost(cost: float) -> float:
    return cost if cost <= COST_CEILING else COST_CEILING  # NaN fails the test too


def _expected_size(list_size: ListSize, arguments: Mapping[str, Any]) -> float | None:
    """The largest slicing argument given (a list argument counts its items), else assumedSize."""
    sizes: list[float] = []
    for path in list_size.slicing_arguments:
        value: Any = arguments
        for step in path:
            value = value.get(step) if isinstance(value, dict) else None
        size = _size_of(value)
        if size is not None:
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


def _approx_size(request: AnalysisRequest, root_fields: Sequence[RootField]) -> int:
    """Rough bytes held by an analysis, for a cache bounded by memory."""
    size = 1_000 + len(request.query) + approx_json_bytes(request.variables)
    for root in root_fields:
        # Argument values are shared with the variables or small literals of the query.
        size += 300 + 50 * len(root.arguments)
        size += sum(120 + 60 * len(path) for path in root.coordinates.values())
    return size


def approx_json_bytes(value: Any) -> int:
    """Rough in-memory bytes of a JSON-like value (four times its JSON length)."""
    try:
        return 4 * len(json.dumps(value, default=repr))
    except (RecursionError, ValueError, TypeError):
        # Nested beyond the encoder's stack: a deep chain of small containers.
        return 64 * _JSON_NESTING_FALLBACK


# Deeply nested values are bounded by the request body cap; charge them as this many nodes.
_JSON_NESTING_FALLBACK = 16_384
