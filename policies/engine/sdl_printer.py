"""Printing type definitions as SDL, fast: graphql-core's `print_ast` visits every node of a
definition through its generic reducer, which made printing two thirds of an agent's own schema
build on a 4,500-type schema. Only the small leaves (values, descriptions) go through it here."""

from __future__ import annotations

from collections.abc import Sequence

from graphql import (
    ConstDirectiveNode,
    EnumTypeDefinitionNode,
    FieldDefinitionNode,
    InputObjectTypeDefinitionNode,
    InputValueDefinitionNode,
    InterfaceTypeDefinitionNode,
    ListTypeNode,
    NamedTypeNode,
    NonNullTypeNode,
    ObjectTypeDefinitionNode,
    ScalarTypeDefinitionNode,
    StringValueNode,
    TypeNode,
    UnionTypeDefinitionNode,
    print_ast,
)
from graphql.language import Node


def print_definition(node: Node) -> str:
    """The SDL of a definition node, as `print_ast` would print it (the same schema, if not the same spacing)."""
    if isinstance(node, ObjectTypeDefinitionNode | InterfaceTypeDefinitionNode):
        keyword = "type" if isinstance(node, ObjectTypeDefinitionNode) else "interface"
        implements = " & ".join(interface.name.value for interface in node.interfaces or ())
        head = f"{keyword} {node.name.value}" + (f" implements {implements}" if implements else "")
        return _described(node.description, "") + head + _directives(node.directives) + _block(
            [_field(field) for field in node.fields or ()]
        )
    if isinstance(node, InputObjectTypeDefinitionNode):
        return _described(node.description, "") + f"input {node.name.value}" + _directives(node.directives) + _block(
            [_input_value(value, "  ") for value in node.fields or ()]
        )
    if isinstance(node, EnumTypeDefinitionNode):
        return _described(node.description, "") + f"enum {node.name.value}" + _directives(node.directives) + _block(
            [_described(value.description, "  ") + "  " + value.name.value + _directives(value.directives)
             for value in node.values or ()]
        )
    if isinstance(node, UnionTypeDefinitionNode):
        members = " | ".join(member.name.value for member in node.types or ())
        return (_described(node.description, "") + f"union {node.name.value}" + _directives(node.directives)
                + (f" = {members}" if members else ""))
    if isinstance(node, ScalarTypeDefinitionNode):
        return _described(node.description, "") + f"scalar {node.name.value}" + _directives(node.directives)
    return print_ast(node)


def _block(lines: Sequence[str]) -> str:
    return " {\n" + "\n".join(lines) + "\n}" if lines else ""


def _field(node: FieldDefinitionNode) -> str:
    arguments = node.arguments or ()
    if any(argument.description for argument in arguments):
        listed = "(\n" + "\n".join(_input_value(argument, "    ") for argument in arguments) + "\n  )"
    elif arguments:
        listed = "(" + ", ".join(_input_value(argument, "") for argument in arguments) + ")"
    else:
        listed = ""
    return (_described(node.description, "  ") + f"  {node.name.value}{listed}: {_type(node.type)}"
            + _directives(node.directives))


def _input_value(node: InputValueDefinitionNode, indent: str) -> str:
    default = f" = {print_ast(node.default_value)}" if node.default_value is not None else ""
    return (_described(node.description, indent) + f"{indent}{node.name.value}: {_type(node.type)}{default}"
            + _directives(node.directives))


def _type(node: TypeNode) -> str:
    if isinstance(node, NonNullTypeNode):
        return _type(node.type) + "!"
    if isinstance(node, ListTypeNode):
        return f"[{_type(node.type)}]"
    assert isinstance(node, NamedTypeNode)
    return node.name.value


def _directives(nodes: Sequence[ConstDirectiveNode] | None) -> str:
    printed = []
    for directive in nodes or ():
        arguments = ", ".join(
            f"{argument.name.value}: {print_ast(argument.value)}" for argument in directive.arguments or ()
        )
        printed.append(f" @{directive.name.value}" + (f"({arguments})" if arguments else ""))
    return "".join(printed)


def _described(description: StringValueNode | None, indent: str) -> str:
    """The description on its own lines before a definition (a block string keeps its meaning when indented)."""
    if description is None:
        return ""
    return "\n".join(indent + line if line else line for line in print_ast(description).split("\n")) + "\n"
