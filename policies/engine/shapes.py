"""The shape cache: a document that differs from one analysed before only in its string and number
literals (another id, another `first:`) is served from that document's validated, measured shape.

A document's shape is its text with every string and number literal lifted out (`lift`). Booleans,
enum values and null stay in the shape, so a literal @skip/@include and every structural rule stay
as validated. On a hit only what depends on the lifted values is redone: each literal is lexed and
held to the input type at its position (graphql-core's `validate_input_literal`, what
ValuesOfCorrectTypeRule runs), the variables are coerced, the cost is measured again when a slicing
argument's value (or a variable) changed, and the root fields' arguments are rebuilt. A literal whose
value other rules read is pinned: the shape serves only documents with that very literal
(directive arguments such as @defer labels, variable defaults, arguments of fields that share a
response key with another selection, which OverlappingFieldsCanBeMerged compares, and values that a
scalar takes whole). Anything else the shape cannot vouch for falls back to the full analysis, so
the analysis served is the one `analyze` would return.
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from graphql import (
    DocumentNode,
    FieldNode,
    FloatValueNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInputType,
    IntValueNode,
    Lexer,
    OperationDefinitionNode,
    Source,
    StringValueNode,
    TokenKind,
    TypeInfo,
    TypeInfoVisitor,
    ValueNode,
    Visitor,
    get_named_type,
    get_nullable_type,
    is_leaf_type,
    is_list_type,
    is_object_type,
    visit,
)
from graphql.utilities import validate_input_literal

from . import variables as variables_module
from .analysis import (
    Analysis,
    AnalysisLimits,
    AnalysisRequest,
    _approx_size,
    _fragments,
    _over_caps,
    _select_operation,
    _utf8_length,
    analyze,
)
from .measure import FragmentMemo, RootField, Walker, bounded_cost, field_arguments
from .schema import FieldInfo, SchemaBundle
from .values import to_json

HIT, MISS, COLD = "hit", "miss", "cold"
_DEFAULT_LIMITS = AnalysisLimits()  # served from a shape / analysed (and cached) / not shapeable

# String, block string and number literals, and runs of comments (kept in the shape: a `"` inside
# one starts no string). Written so that the scan runs at C speed between matches (every branch
# starts with a known character, no lookbehind): a 64 KiB document takes a few milliseconds.
_LITERALS = re.compile(
    r'(?P<B>"""(?:[^"\\]++|\\"""|\\|"(?!""))*+""")'
    r'|(?P<S>"(?:[^"\\\n\r]++|\\[^\n\r])*+")'
    r"|#[^\n\r]*+(?:[\s,]*+#[^\n\r]*+)*+"
    r"|(?P<N>-?[0-9](?:[eE][+-]?|[_0-9A-Za-z.])*+)"
)
# A number right after one of these continues a name (`t42`) or is no literal at all (`.5`).
_NAME_OR_DOT = frozenset("_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz.")
# Marks a lifted literal in a shape; a document holding it is never shaped (so no text can fake one).
_MARK = "\x00"
_INT = re.compile(r"-?(?:0|[1-9][0-9]*)")
_FLOAT = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
# A string without escapes or surrogates: its value is its text between the quotes.
_PLAIN_STRING = re.compile(r'"[^"\\\n\r\ud800-\udfff]*"')
# Lifting stops beyond this many literals when the server sets no token cap.
_MAX_LITERALS = 10_000
# Costs memoised per shape (by the values that drive them): agents reuse a few page sizes.
_COSTS_PER_SHAPE = 16
# Fragment measures kept per fragment of a shape (by sizing and the costly values inside it), and
# the bytes a shape is charged for each (a measure holds the coordinates the fragment selects).
_FRAGMENT_MEASURES_PER_FRAGMENT = 8
_FRAGMENT_MEASURE_BYTES = 600


@dataclass(frozen=True, slots=True)
class Lifted:
    """A document's shape: its text with literals replaced by a mark and their kind, and where
    the literals were."""

    skeleton: str
    kinds: str  # per literal: I(nt), F(loat), S(tring), B(lock string)
    spans: tuple[tuple[int, int], ...]


def lift(query: str, max_literals: int = _MAX_LITERALS) -> Lifted | None:
    """The shape of `query`, or None when it holds the mark or more than `max_literals` literals
    (bounded work: one regular-expression pass over a document the size cap admitted)."""
    if _MARK in query:
        return None
    pieces: list[str] = []
    kinds: list[str] = []
    spans: list[tuple[int, int]] = []
    position = 0
    for match in _LITERALS.finditer(query):
        kind = match.lastgroup
        if kind is None:
            continue  # a comment
        start, end = match.span()
        if kind == "N":
            if start and query[start - 1] in _NAME_OR_DOT:
                continue  # part of a name, kept in the shape
            text = match.group()
            kind = "F" if "." in text or "e" in text or "E" in text else "I"
        pieces.append(query[position:start])
        pieces.append(_MARK + kind)
        kinds.append(kind)
        spans.append((start, end))
        position = end
        if len(spans) > max_literals:
            return None
    pieces.append(query[position:])
    return Lifted("".join(pieces), "".join(kinds), tuple(spans))


class ShapeStore(Protocol):
    """Where shapes are kept (policies/checks/caches.py gives a bounded LRU)."""

    def get(self, key: Hashable) -> Any: ...

    def put(self, key: Hashable, value: Any) -> None: ...


class Unshapeable:
    """Stored for a shape whose literals could not be matched to its tree: analysed cold each time."""

    def __init__(self, lifted: Lifted) -> None:
        self.approx_size_bytes = 200 + _key_bytes(lifted)


def _key_bytes(lifted: Lifted) -> int:
    """What the cache key (the shape's text) holds: up to 4 bytes a character."""
    return 100 + 4 * len(lifted.skeleton)


def analyze_shaped(
    store: ShapeStore,
    scope: Hashable,
    bundle: SchemaBundle,
    query: str,
    *,
    operation_name: str | None = None,
    variables: Mapping[str, Any] | None = None,
    limits: AnalysisLimits = _DEFAULT_LIMITS,
    default_list_size: int = 10,
    mutation_base_cost: int = 10,
) -> tuple[Analysis, str]:
    """`analyze(...)`'s analysis, served from `store` when a document of the same shape was analysed
    under `scope` (the schema version); and how: HIT, MISS (analysed, its shape kept) or COLD."""

    def cold() -> Analysis:
        return analyze(bundle, query, operation_name=operation_name, variables=variables, limits=limits,
                       default_list_size=default_list_size, mutation_base_cost=mutation_base_cost)

    # The size cap holds before any work of ours, as in analyze.
    if not isinstance(query, str) or not isinstance(variables, Mapping | None) \
            or _utf8_length(query) > limits.max_document_bytes:
        return cold(), COLD
    lifted = lift(query, limits.caps.max_tokens or _MAX_LITERALS)
    if lifted is None:
        return cold(), COLD
    key = (scope, operation_name, limits, default_list_size, mutation_base_cost, lifted.skeleton)
    shape = store.get(key)
    if isinstance(shape, Shape):
        request = AnalysisRequest(bundle, query, operation_name, variables or {}, limits, default_list_size,
                                  mutation_base_cost)
        try:
            served = shape.serve(request, lifted)
        except RecursionError:
            served = None
        return (served, HIT) if served is not None else (cold(), MISS)
    if shape is not None:
        return cold(), COLD
    analysis = cold()
    if analysis.ok:
        try:
            store.put(key, build_shape(analysis, lifted))
        except RecursionError:
            store.put(key, Unshapeable(lifted))
    return analysis, MISS


@dataclass(frozen=True, slots=True)
class _Slot:
    """One lifted literal of a shape."""

    start: int
    end: int
    kind: str
    text: str  # the literal of the document the shape was made from
    node: ValueNode  # its node in that document's tree: its id keys the value sent instead
    type: GraphQLInputType | None  # the input type at its position
    pinned: bool  # other rules read its value: the shape serves only this text
    costly: bool  # a slicing argument's: the cost depends on it
    merge_class: int | None  # slots of one class must keep one value (see _slots)


@dataclass(eq=False)
class Shape:
    """A validated, measured document, ready to serve documents that differ only in literals."""

    template: Analysis
    document: DocumentNode
    operation: OperationDefinitionNode
    fragments: dict[str, FragmentDefinitionNode]
    slots: tuple[_Slot, ...]
    root_nodes: tuple[tuple[FieldNode, FieldInfo | None], ...]  # each root field's first selection
    approx_size_bytes: int
    # The cost by the values that drive it (costly slots, variables); bounded by _COSTS_PER_SHAPE.
    costs: dict[Hashable, float] = field(default_factory=dict)
    # Redaction of the template per set of sensitive globs (redaction.py), moved to each hit's text.
    redactions: dict[tuple[str, ...], Any] = field(default_factory=dict)
    ends: tuple[int, ...] = ()
    # Per fragment: the costly slots inside it and the fragments it spreads, transitively.
    fragment_slots: dict[str, tuple[int, ...]] = field(default_factory=dict)
    # Fragment measures across hits (measure.FragmentMemo), at most _FRAGMENT_MEASURES_PER_FRAGMENT each.
    fragment_measures: dict[Hashable, Any] = field(default_factory=dict)

    def serve(self, request: AnalysisRequest, lifted: Lifted) -> Analysis | None:
        """The analysis of `request` (whose shape is this one), or None when only a full analysis can tell."""
        query = request.query
        literals: dict[int, Any] = {}
        merged: dict[int, str] = {}
        for slot, (start, end) in zip(self.slots, lifted.spans, strict=True):
            text = query[start:end]
            if slot.pinned:
                if text != slot.text:
                    return None
                continue
            node = _literal_node(slot.kind, text)
            if node is None or (slot.type is not None and not _valid_literal(node, slot.type)):
                return None
            if slot.merge_class is not None and merged.setdefault(slot.merge_class, node.value) != node.value:  # type: ignore[attr-defined]
                return None
            literals[id(slot.node)] = to_json(node, {})
        bundle = request.bundle
        variables, problems = variables_module.coerced_variables(
            bundle.schema, self.operation, request.variables, request.limits.max_validation_errors
        )
        if problems:
            return None
        template = self.template
        cost_key = self._cost_key(query, lifted, request.variables)
        cost = self.costs.get(cost_key) if cost_key is not None else None
        if cost is None:
            memo = self._fragment_memo(query, lifted, cost_key)
            walker = Walker(bundle, self.fragments, variables, request.default_list_size, literals, memo)
            root_fields, measured = walker.measure_root(
                bundle.schema.get_root_type(self.operation.operation), self.operation, self.operation.operation.value
            )
            base = request.mutation_base_cost if self.operation.operation.value == "mutation" else 0
            cost = bounded_cost(measured.cost + base)
            if cost_key is not None and len(self.costs) < _COSTS_PER_SHAPE:
                self.costs[cost_key] = cost
        else:
            root_fields = tuple(
                replace(root, arguments=field_arguments(node, info, variables, literals)[1])
                for root, (node, info) in zip(template.root_fields, self.root_nodes, strict=True)
            )
        assert template.metrics is not None
        metrics = replace(template.metrics, cost=cost)
        if _over_caps(request, metrics, ("", 0)):
            return None
        return Analysis(
            request=request,
            failure=(),
            metrics=metrics,
            operation_name=template.operation_name,
            operation_type=template.operation_type,
            root_fields=root_fields,
            introspection_paths=template.introspection_paths,
            declared_variables=template.declared_variables,
            approx_size_bytes=_approx_size(request, root_fields),
            coerced=[variables],
            shape_hit=ShapeHit(self, query, lifted.spans),
        )

    def _fragment_memo(self, query: str, lifted: Lifted, cost_key: Hashable | None) -> FragmentMemo | None:
        """Fragment measures of earlier hits, for fragments whose costly literals (and the variables)
        are those of this document: a new page size at the root re-measures the root, not its fragments."""
        if cost_key is None:
            return None
        variables_text = cost_key[1]  # type: ignore[index]
        spans = lifted.spans

        def key(name: str, sizing: Any) -> Hashable | None:
            slots = self.fragment_slots.get(name)
            if slots is None:
                return None
            return name, sizing, variables_text, tuple(query[spans[i][0]:spans[i][1]] for i in slots)

        capacity = _FRAGMENT_MEASURES_PER_FRAGMENT * max(1, len(self.fragments))
        return FragmentMemo(key, self.fragment_measures, capacity)

    def _cost_key(self, query: str, lifted: Lifted, variables: Mapping[str, Any]) -> Hashable | None:
        """What the cost depends on: the costly literals and (when the operation declares any) the
        variables; None when the variables have no canonical text (the cost is then measured)."""
        texts = tuple(
            query[start:end] for slot, (start, end) in zip(self.slots, lifted.spans, strict=True) if slot.costly
        )
        if not self.template.declared_variables:
            return texts, ""
        try:
            return texts, json.dumps(variables, sort_keys=True, separators=(",", ":"))
        except (TypeError, ValueError, RecursionError):
            return None


@dataclass(frozen=True, slots=True)
class ShapeHit:
    """A document served from `shape`: its text and where its literals are."""

    shape: Shape
    query: str
    spans: tuple[tuple[int, int], ...]

    def moved(self, positions: list[tuple[int, int]]) -> list[tuple[int, int]]:
        """Spans of the shape's template text, moved to where they are in this document's text
        (a span starts and ends between tokens, so only the literals before it move it)."""
        shifts = [0]
        for slot, (start, end) in zip(self.shape.slots, self.spans, strict=True):
            shifts.append(shifts[-1] + (end - start) - (slot.end - slot.start))
        ends = self.shape.ends

        def move(position: int) -> int:
            return position + shifts[bisect.bisect_right(ends, position)]

        return [(move(start), move(end)) for start, end in positions]


def build_shape(analysis: Analysis, lifted: Lifted) -> Shape | Unshapeable:
    """The shape of an analysis that succeeded (its tree still held), or an Unshapeable."""
    if not analysis.parsed or not analysis.ok:
        return Unshapeable(lifted)
    document = analysis.parsed[0]
    request = analysis.request
    bundle = request.bundle
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    operation = _select_operation(operations, request.operation_name)
    if operation is None:
        return Unshapeable(lifted)
    slots = _slots(bundle, document, lifted, request.query)
    if slots is None:
        return Unshapeable(lifted)
    fragments = _fragments(document)
    walker = Walker(bundle, fragments, {}, request.default_list_size)
    root_nodes = tuple(walker.root_selections(bundle.schema.get_root_type(operation.operation), operation))
    if len(root_nodes) != len(analysis.root_fields):
        return Unshapeable(lifted)
    fragment_slots = _fragment_slots(fragments, slots)
    shape = Shape(
        template=analysis,
        document=document,
        operation=operation,
        fragments=fragments,
        slots=slots,
        root_nodes=root_nodes,
        # A tree holds ~95 bytes per character of its text (measured with tracemalloc, docs/benchmarks.md).
        approx_size_bytes=analysis.approx_size_bytes + 120 * len(request.query) + 250 * len(slots) + _key_bytes(lifted)
        + _FRAGMENT_MEASURE_BYTES * _FRAGMENT_MEASURES_PER_FRAGMENT * len(fragments),
        ends=tuple(slot.end for slot in slots),
        fragment_slots=fragment_slots,
    )
    assert analysis.metrics is not None
    key = shape._cost_key(request.query, lifted, request.variables)
    if key is not None:
        shape.costs[key] = analysis.metrics.cost
    return shape


def _fragment_slots(
    fragments: Mapping[str, FragmentDefinitionNode], slots: tuple[_Slot, ...]
) -> dict[str, tuple[int, ...]]:
    """Per fragment, the costly slots inside it or inside a fragment it spreads (transitively)."""
    own: dict[str, set[int]] = {}
    spreads: dict[str, set[str]] = {}
    for name, fragment in fragments.items():
        loc = fragment.loc
        own[name] = {i for i, slot in enumerate(slots)
                     if slot.costly and loc is not None and loc.start <= slot.start < loc.end}
        spreads[name] = _spread_names(fragment.selection_set.selections)
    closure: dict[str, tuple[int, ...]] = {}
    for name in fragments:
        seen, pending, found = {name}, [name], set()
        while pending:
            current = pending.pop()
            found |= own.get(current, set())
            for spread in spreads.get(current, ()):
                if spread not in seen:
                    seen.add(spread)
                    pending.append(spread)
        closure[name] = tuple(sorted(found))
    return closure


def _spread_names(selections: Any) -> set[str]:
    names: set[str] = set()
    pending = list(selections)
    while pending:
        selection = pending.pop()
        if isinstance(selection, FragmentSpreadNode):
            names.add(selection.name.value)
        elif selection.selection_set is not None:
            pending.extend(selection.selection_set.selections)
    return names


def _slots(bundle: SchemaBundle, document: DocumentNode, lifted: Lifted, query: str) -> tuple[_Slot, ...] | None:
    """The lifted literals matched to the tree's literal nodes, or None when they do not match one
    to one (the regular expression saw the text otherwise than graphql-core's lexer)."""
    collector = _LiteralCollector(TypeInfo(bundle.schema), bundle)
    visit(document, TypeInfoVisitor(collector.type_info, collector))
    found = sorted(collector.literals, key=lambda literal: literal.node.loc.start if literal.node.loc else -1)
    if len(found) != len(lifted.spans):
        return None
    slots = []
    # Arguments OverlappingFieldsCanBeMergedRule may compare: a valid document has equal values
    # wherever it compared them, so literals of equal value there must stay equal (and may change together).
    merge_classes: dict[tuple[str, str], int] = {}
    for literal, (start, end), kind in zip(found, lifted.spans, lifted.kinds, strict=True):
        node = literal.node
        if node.loc is None or (node.loc.start, node.loc.end) != (start, end) or _kind_of(node) != kind:
            return None
        merge_class = None
        if literal.field is not None and collector.may_merge(literal.field, literal.parent):
            merge_class = merge_classes.setdefault((kind, node.value), len(merge_classes))  # type: ignore[attr-defined]
        slots.append(_Slot(start, end, kind, query[start:end], node, literal.type, literal.pinned, literal.costly,
                           merge_class))
    return tuple(slots)


@dataclass(frozen=True, slots=True)
class _Literal:
    node: ValueNode
    type: GraphQLInputType | None
    pinned: bool
    costly: bool
    field: FieldNode | None  # the field whose argument holds it
    parent: Any  # that field's parent type


class _LiteralCollector(Visitor):
    """Every string and number literal of a document, with the input type at its position (as
    TypeInfo gives it to ValuesOfCorrectTypeRule) and whether its value may vary."""

    def __init__(self, type_info: TypeInfo, bundle: SchemaBundle) -> None:
        super().__init__()
        self.type_info = type_info
        self.bundle = bundle
        self.literals: list[_Literal] = []
        # Response key -> the parent type of each selection with it, over the document.
        self.keys: dict[str, list[Any]] = {}
        self.fields: list[tuple[FieldNode, Any]] = []
        self.fixed = 0  # inside a directive or a variable definition
        self.whole: list[bool] = []  # per enclosing list/object value: a scalar takes it whole
        self.argument: str | None = None

    def enter_field(self, node: FieldNode, *_args: Any) -> None:
        parent = self.type_info.get_parent_type()
        self.fields.append((node, parent))
        self.keys.setdefault(_response_key(node), []).append(parent)

    def may_merge(self, node: FieldNode, parent: Any) -> bool:
        """Whether OverlappingFieldsCanBeMergedRule may compare `node`'s arguments with another
        selection's: one with its response key, unless both sit on different object types (which it
        calls mutually exclusive). Selections far apart in the document count too."""
        parents = self.keys[_response_key(node)]
        if len(parents) < 2:
            return False
        if not is_object_type(parent):
            return True
        return sum(1 for other in parents if other is parent or not is_object_type(other)) > 1

    def leave_field(self, *_args: Any) -> None:
        self.fields.pop()

    def enter_directive(self, *_args: Any) -> None:
        self.fixed += 1

    def leave_directive(self, *_args: Any) -> None:
        self.fixed -= 1

    enter_variable_definition = enter_directive
    leave_variable_definition = leave_directive

    def enter_argument(self, node: Any, *_args: Any) -> None:
        self.argument = node.name.value

    def leave_argument(self, *_args: Any) -> None:
        self.argument = None

    def enter_list_value(self, *_args: Any) -> None:
        self._enter_composite(self.type_info.get_parent_input_type())

    def enter_object_value(self, *_args: Any) -> None:
        self._enter_composite(self.type_info.get_input_type())

    def _enter_composite(self, own: GraphQLInputType | None) -> None:
        # A list or object where a scalar is expected: the scalar's parser reads it whole.
        scalar = not is_list_type(get_nullable_type(own)) and is_leaf_type(get_named_type(own)) if own else True
        self.whole.append(scalar)

    def leave_list_value(self, *_args: Any) -> None:
        self.whole.pop()

    leave_object_value = leave_list_value

    def enter_int_value(self, node: ValueNode, *_args: Any) -> None:
        type_ = self.type_info.get_input_type()
        in_field = bool(self.fields) and not self.fixed and self.argument is not None
        field_node, parent = self.fields[-1] if in_field else (None, None)
        costly = False
        if field_node is not None:
            info = self.bundle.field_info(parent, field_node.name.value) if parent is not None else None
            # An unknown field cannot pass validation; counted costly all the same.
            costly = info is None or (info.list_size is not None and any(
                path[0] == self.argument for path in info.list_size.slicing_arguments))
        pinned = type_ is None or bool(self.fixed) or any(self.whole) or field_node is None
        self.literals.append(_Literal(node, type_, pinned, costly, field_node, parent))

    enter_float_value = enter_int_value
    enter_string_value = enter_int_value


def _response_key(node: FieldNode) -> str:
    return node.alias.value if node.alias else node.name.value


def _kind_of(node: ValueNode) -> str:
    if isinstance(node, IntValueNode):
        return "I"
    if isinstance(node, FloatValueNode):
        return "F"
    if isinstance(node, StringValueNode):
        return "B" if node.block else "S"
    return "?"


def _literal_node(kind: str, text: str) -> ValueNode | None:
    """The literal `text` as graphql-core's parser reads it, or None when its lexer would refuse it."""
    if kind == "I":
        return IntValueNode(value=text) if _INT.fullmatch(text) else None
    if kind == "F":
        return FloatValueNode(value=text) if _FLOAT.fullmatch(text) else None
    if kind == "S" and _PLAIN_STRING.fullmatch(text):
        return StringValueNode(value=text[1:-1], block=False)
    try:
        token = Lexer(Source(text)).advance()
    except GraphQLError:
        return None
    expected = TokenKind.BLOCK_STRING if kind == "B" else TokenKind.STRING
    if token.kind is not expected or token.end != len(text) or token.value is None:
        return None
    return StringValueNode(value=token.value, block=kind == "B")


def _valid_literal(node: ValueNode, type_: GraphQLInputType) -> bool:
    """Whether ValuesOfCorrectTypeRule accepts `node` where `type_` is expected."""
    errors: list[GraphQLError] = []
    try:
        validate_input_literal(node, type_, lambda error, _path: errors.append(error), None, None, True)
    except Exception:  # a scalar's parser that raises: the full analysis says what it makes of it
        return False
    return not errors


__all__ = [
    "COLD",
    "HIT",
    "MISS",
    "Lifted",
    "RootField",
    "Shape",
    "ShapeHit",
    "Unshapeable",
    "analyze_shaped",
    "build_shape",
    "lift",
]
