"""The slots of a shape (policies/engine/shapes.py): each lifted literal of a document with the
input type at its position, which other validation rules read it (pinned), whether the cost
depends on it, and which slots must keep one value; and the checks of a new literal there."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

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

from .schema import SchemaBundle

HIT, MISS, COLD = "hit", "miss", "cold"

if TYPE_CHECKING:
    from .shapes import Lifted

_INT = re.compile(r"-?(?:0|[1-9][0-9]*)")
_FLOAT = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_PLAIN_STRING = re.compile(r'"[^"\\\n\r\ud800-\udfff]*"')


@dataclass(frozen=True, slots=True)
class Slot:
    """One lifted literal of a shape."""

    start: int
    end: int
    kind: str
    text: str  # the literal of the document the shape was made from
    node: ValueNode  # its node in that document's tree: its id keys the value sent instead
    type: GraphQLInputType | None  # the input type at its position
    pinned: bool  # other rules read its value: the shape serves only this text
    costly: bool  # a slicing argument's: the cost depends on it
    merge_class: int | None  # slots of one class must keep one value (see document_slots)


def slots_by_fragment(
    fragments: Mapping[str, FragmentDefinitionNode], slots: tuple[Slot, ...]
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


def document_slots(bundle: SchemaBundle, document: DocumentNode, lifted: Lifted, query: str) -> tuple[Slot, ...] | None:
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
        slots.append(Slot(start, end, kind, query[start:end], node, literal.type, literal.pinned, literal.costly,
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


def literal_node(kind: str, text: str) -> ValueNode | None:
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


def valid_literal(node: ValueNode, type_: GraphQLInputType) -> bool:
    """Whether ValuesOfCorrectTypeRule accepts `node` where `type_` is expected."""
    errors: list[GraphQLError] = []
    try:
        validate_input_literal(node, type_, lambda error, _path: errors.append(error), None, None, True)
    except Exception:  # a scalar's parser that raises: the full analysis says what it makes of it
        return False
    return not errors
