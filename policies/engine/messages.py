"""Messages about a failed document that are safe to store and show: they quote none of its
literal values, and say what kind of operation an unreadable document attempted."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from graphql import (
    ArgumentNode,
    DirectiveNode,
    FieldNode,
    GraphQLError,
    ListValueNode,
    Node,
    ObjectFieldNode,
    ObjectValueNode,
    Source,
    ValueNode,
    VariableNode,
    print_ast,
)
from graphql.language import Lexer, TokenKind

from .limits import DEFAULT_CAPS


def located(error: GraphQLError) -> str:
    """The error's message without any literal value of the document, with where it is.

    Messages are stored and shown beside the redacted document, so a literal they quoted
    (`String cannot represent a non string value: 12345678`) would undo the redaction; the
    agent that sent the value still learns where it is.
    """
    message = _without_literals(error)
    if not error.locations:
        return message
    location = error.locations[0]
    return f"{message} (line {location.line}, column {location.column})"


_LITERAL_SHOWN = "a literal"
# How graphql-core's lexer and parser quote a literal token: `found Int '99'`, `Unexpected String 'x'`.
_QUOTED_TOKEN = re.compile(r"\b(Int|Float|String|BlockString) '.*'(?=\.$)", re.DOTALL)


def _without_literals(error: GraphQLError) -> str:
    message = _QUOTED_TOKEN.sub(r"\1", error.message)
    printed = {print_ast(node) for node in _literal_nodes(error.nodes or ())}
    for text in sorted(printed, key=len, reverse=True):
        message = message.replace(text, _LITERAL_SHOWN)
    return message


def _literal_nodes(nodes: Iterable[Node]) -> Iterator[ValueNode]:
    """Every literal value node in `nodes` and inside them (lists, objects, arguments)."""
    pending = list(nodes)
    while pending:
        node = pending.pop()
        if isinstance(node, ListValueNode):
            pending.extend(node.values)
        elif isinstance(node, ObjectValueNode):
            pending.extend(field.value for field in node.fields)
        elif isinstance(node, ArgumentNode | ObjectFieldNode):
            pending.append(node.value)
        elif isinstance(node, DirectiveNode | FieldNode):
            pending.extend(node.arguments or ())
        if isinstance(node, ValueNode) and not isinstance(node, VariableNode):
            yield node


def attempted_mutation(text: str, max_tokens: int | None) -> str | None:
    """"mutation" when an unparseable document starts a definition with `mutation`, read token by
    token up to the syntax error (or the token cap)."""
    lexer = Lexer(Source(text))
    depth = 0
    try:
        for _ in range(max_tokens or DEFAULT_CAPS.max_tokens or 0):
            token = lexer.advance()
            if token.kind is TokenKind.EOF:
                break
            if token.kind is TokenKind.BRACE_L:
                depth += 1
            elif token.kind is TokenKind.BRACE_R:
                depth -= 1
            elif depth == 0 and token.kind is TokenKind.NAME and token.value == "mutation":
                return "mutation"
    except GraphQLError:
        pass
    return None
