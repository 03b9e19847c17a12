"""The six limit dimensions a policy can set, and the metric each one bounds."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Dimension:
    """One limit a policy can set: the metric it bounds, the reason code reported over it, its label."""

    name: str
    metric: str
    reason_code: str
    label: str


# The one table of limit dimensions, in the order reasons are reported; everything else derives
# from it (the reason codes, the admin's labels, the metrics a dimension reads).
LIMIT_DIMENSIONS: tuple[Dimension, ...] = (
    Dimension("max_depth", "depth", "DEPTH_LIMIT", "Max depth"),
    Dimension("max_aliases", "aliases", "ALIAS_LIMIT", "Max aliases"),
    Dimension("max_root_fields", "root_fields", "ROOT_FIELD_LIMIT", "Max root fields"),
    Dimension("max_tokens", "tokens", "TOKEN_LIMIT", "Max tokens"),
    Dimension("max_directives", "directives", "DIRECTIVE_LIMIT", "Max directives"),
    Dimension("max_cost", "cost", "COST_LIMIT", "Max cost"),
)
DIMENSIONS = tuple(dimension.name for dimension in LIMIT_DIMENSIONS)
METRIC_OF_DIMENSION: dict[str, str] = {dimension.name: dimension.metric for dimension in LIMIT_DIMENSIONS}
LIMIT_CODES: dict[str, str] = {dimension.name: dimension.reason_code for dimension in LIMIT_DIMENSIONS}
LIMIT_LABELS: dict[str, str] = {dimension.name: dimension.label for dimension in LIMIT_DIMENSIONS}


@dataclass(frozen=True, slots=True)
class Limits:
    """A bound per dimension; None leaves the dimension unbounded at this level."""

    max_depth: int | None = None
    max_aliases: int | None = None
    max_root_fields: int | None = None
    max_tokens: int | None = None
    max_directives: int | None = None
    max_cost: int | None = None

    @classmethod
    def from_mapping(cls, values: Mapping[str, int]) -> Limits:
        return cls(**{name: values[name] for name in DIMENSIONS if name in values})

    def get(self, dimension: str) -> int | None:
        value: int | None = getattr(self, dimension)
        return value

    def items(self) -> list[tuple[str, int]]:
        """The bounded dimensions with their bounds."""
        return [(name, value) for name in DIMENSIONS if (value := getattr(self, name)) is not None]

    def as_dict(self) -> dict[str, int]:
        return dict(self.items())


# Server-wide hard caps used when the caller configures none. Generous enough for any real
# document, tight enough that hostile ones are refused in milliseconds, before validation.
DEFAULT_CAPS = Limits(
    max_depth=64,
    max_aliases=1_000,
    max_root_fields=200,
    max_tokens=8_000,
    max_directives=1_000,
    max_cost=10_000_000,
)
