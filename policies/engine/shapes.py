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
    FragmentDefinitionNode,
    OperationDefinitionNode,
)

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
from .shape_slots import Slot, document_slots, literal_node, slots_by_fragment, valid_literal
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
# A string without escapes or surrogates: its value is its text between the quotes.
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


@dataclass(eq=False)
class Shape:
    """A validated, measured document, ready to serve documents that differ only in literals."""

    template: Analysis
    document: DocumentNode
    operation: OperationDefinitionNode
    fragments: dict[str, FragmentDefinitionNode]
    slots: tuple[Slot, ...]
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
            node = literal_node(slot.kind, text)
            if node is None or (slot.type is not None and not valid_literal(node, slot.type)):
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
    slots = document_slots(bundle, document, lifted, request.query)
    if slots is None:
        return Unshapeable(lifted)
    fragments = _fragments(document)
    walker = Walker(bundle, fragments, {}, request.default_list_size)
    root_nodes = tuple(walker.root_selections(bundle.schema.get_root_type(operation.operation), operation))
    if len(root_nodes) != len(analysis.root_fields):
        return Unshapeable(lifted)
    fragment_slots = slots_by_fragment(fragments, slots)
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
