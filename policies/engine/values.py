"""GraphQL literal values as JSON-like Python values, with variables substituted."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from graphql import (
    BooleanValueNode,
    EnumValueNode,
    FloatValueNode,
    IntValueNode,
    ListValueNode,
    NullValueNode,
    ObjectValueNode,
    StringValueNode,
    ValueNode,
    VariableNode,
)


class _Missing:
    """An argument or variable that was not supplied (distinct from an explicit null)."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()


def to_json(node: ValueNode, variables: Mapping[str, Any], literals: Mapping[int, Any] | None = None) -> Any:
    """The value of a literal as JSON-like data; an unsupplied variable gives MISSING.

    `literals` maps the id of a literal node to the value it stands for instead (a shape-cache hit
    measures a cached document's tree with the literal values of the document sent: shapes.py)."""
    if literals is not None:
        lifted = literals.get(id(node), MISSING)
        if lifted is not MISSING:
            return lifted
    if isinstance(node, VariableNode):
        return variables.get(node.name.value, MISSING)
    if isinstance(node, IntValueNode):
        # Python refuses to convert integers of thousands of digits; as a float they become inf.
        return int(node.value) if len(node.value) < 19 else float(node.value)
    if isinstance(node, FloatValueNode):
        return float(node.value)
    if isinstance(node, StringValueNode | EnumValueNode):
        return node.value
    if isinstance(node, BooleanValueNode):
        return node.value
    if isinstance(node, NullValueNode):
        return None
    if isinstance(node, ListValueNode):
        items = (to_json(item, variables, literals) for item in node.values)
        return [None if item is MISSING else item for item in items]
    if isinstance(node, ObjectValueNode):
        fields = ((field.name.value, to_json(field.value, variables, literals)) for field in node.fields)
        return {name: value for name, value in fields if value is not MISSING}
    return MISSING


def plain_number(value: int | float) -> int | float:
    """A whole float as an int (`16.0` -> `16`), for answers and messages."""
    return int(value) if isinstance(value, float) and value.is_integer() else value
