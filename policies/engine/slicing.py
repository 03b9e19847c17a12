"""The slicing arguments that drive a document's cost, and the largest value they may take for the
document to fit a cost limit (`orders(first: 100000)` under a limit of 300 -> `first: 99`).

The search lowers every slicing argument above a cap to the cap and measures the document again
with the analysis's own walker (measure.py), finding the largest cap that fits: cost only grows
with slicing values, and the walk reuses the parsed operation, so each probe is one walk.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from graphql import FieldNode, OperationDefinitionNode, VariableNode, get_named_type

from .measure import Walker, _expected_size, _size_of, bounded_cost
from .reasons import Path
from .schema import FieldInfo, SchemaBundle

# Slicing arguments whose value a rewrite may lower: numbers, and lists (which count their items).
_NUMBER_TYPES = frozenset({"Int", "Float"})


@dataclass(frozen=True, slots=True)
class SlicingSite:
    """One slicing argument of one field that the cap lowers."""

    path: Path  # the field's response path
    argument: str
    variable: str | None  # the variable the value comes from, if it does
    nodes: tuple[FieldNode, ...]  # the field's selections (merged under one response key)
    items: bool  # the value is a list, whose items count


@dataclass(frozen=True, slots=True)
class SlicingFix:
    """Lowering `sites` to at most `cap` makes the document cost `cost`, within the limit."""

    cap: int
    cost: float
    sites: tuple[SlicingSite, ...]


def largest_fitting_cap(
    bundle: SchemaBundle,
    operation: OperationDefinitionNode,
    variables: Mapping[str, Any],
    *,
    default_list_size: int,
    base_cost: float,
    limit: float,
) -> SlicingFix | None:
    """The largest cap (at least 1) on the slicing arguments of `operation` (fragments inlined,
    `variables` coerced) that brings its cost within `limit`; None when the cost fits already, no
    slicing argument drives it, or even a cap of 1 is too much."""

    def probe(cap: float) -> tuple[float, _CappingWalker]:
        walker = _CappingWalker(bundle, variables, default_list_size, cap)
        _roots, measured = walker.measure_root(
            bundle.schema.get_root_type(operation.operation), operation, operation.operation.value
        )
        return bounded_cost(measured.cost + base_cost), walker

    cost, walker = probe(math.inf)
    if cost <= limit or walker.largest < 2 or probe(1)[0] > limit:
        return None
    # Galloping then bisecting: about 2 log2(answer) probes, not log2 of an absurd value.
    good, bad = 1, math.ceil(walker.largest)
    candidate = 2
    while candidate < bad:
        if probe(candidate)[0] <= limit:
            good, candidate = candidate, candidate * 2
        else:
            bad = candidate
    while bad - good > 1:
        middle = (good + bad) // 2
        if probe(middle)[0] <= limit:
            good = middle
        else:
            bad = middle
    cost, walker = probe(good)
    return SlicingFix(good, cost, tuple(walker.sites))


def lowered(value: Any, cap: int) -> Any:
    """A slicing argument's value lowered to `cap` (a list keeps its first `cap` items)."""
    if isinstance(value, list):
        return value[:cap]
    if isinstance(value, int | float) and not isinstance(value, bool) and value > cap:
        return cap
    return value


class _CappingWalker(Walker):
    """The analysis's walker with slicing arguments above `cap` counted as `cap`."""

    def __init__(
        self, bundle: SchemaBundle, variables: Mapping[str, Any], default_list_size: int, cap: float
    ) -> None:
        super().__init__(bundle, {}, variables, default_list_size)
        self.cap = cap
        self.sites: list[SlicingSite] = []
        self.largest = 0.0  # the largest value of any slicing argument that can be lowered

    def _own_size(self, info: FieldInfo, arguments: Mapping[str, Any], provided: Mapping[str, Any],
                  nodes: Sequence[FieldNode], path: Path) -> float | None:
        assert info.list_size is not None
        cappable = _cappable(info, provided)
        for name in cappable:
            self.largest = max(self.largest, _size_of(arguments.get(name)) or 0.0)
        capped: list[str] = []
        size = _expected_size(info.list_size, arguments, self.cap, cappable, capped)
        self.sites.extend(
            SlicingSite(path, name, _variable_of(nodes[0], name), tuple(nodes), isinstance(arguments.get(name), list))
            for name in capped
        )
        return size


def _cappable(info: FieldInfo, provided: Mapping[str, Any]) -> Collection[str]:
    """The field's top-level slicing arguments a rewrite can lower: those given, and omitted
    numeric ones whose SDL default applies (the rewrite then adds them)."""
    assert info.list_size is not None
    names = []
    for path in info.list_size.slicing_arguments:
        name = path[0]
        if len(path) != 1 or name not in info.arguments:
            continue
        if name in provided or get_named_type(info.arguments[name][0]).name in _NUMBER_TYPES:
            names.append(name)
    return names


def _variable_of(node: FieldNode, argument: str) -> str | None:
    for given in node.arguments or ():
        if given.name.value == argument and isinstance(given.value, VariableNode):
            return given.value.name.value
    return None
