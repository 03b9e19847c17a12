"""The type a CEL condition yields, read from its outermost operator when a policy loads.

The CEL library we use has no type checker, and a condition that is not boolean (`args.amount
+ 1`, `size(claims.groups)`, `"yes"`) never matches: its rule silently does nothing. So the
compiler refuses an expression whose outermost operator, literal or function yields something
other than a boolean. A value read from the request (`args.flag`, `claims["admin"]`) has no type
until a check supplies it: it is accepted, as CEL's `dyn`.

A constant expression (no variables) is evaluated instead, which gives its type exactly.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import cel

from .cel_bounds import without_string_literals

BOOL, DYN = "bool", "dyn"
_BOOL_FUNCTIONS = frozenset({"has", "exists", "all", "exists_one", "startsWith", "endsWith", "contains", "matches"})
_TYPED_FUNCTIONS = {
    "size": "int", "int": "int", "uint": "uint", "double": "double", "string": "string", "bytes": "bytes",
    "timestamp": "timestamp", "duration": "duration", "map": "list", "filter": "list", "type": "type",
    "max": "number", "min": "number", "getFullYear": "int", "getMonth": "int", "getDayOfMonth": "int",
    "getDate": "int", "getDayOfWeek": "int", "getDayOfYear": "int", "getHours": "int", "getMinutes": "int",
    "getSeconds": "int", "getMilliseconds": "int", "split": "list", "lowerAscii": "string",
    "upperAscii": "string", "trim": "string", "replace": "string", "join": "string", "substring": "string",
}
# The variables a condition reads are maps (the agent's attributes, the token's claims, ...).
_MAP_VARIABLES = frozenset({"agent", "claims", "request", "args", "context"})
_NUMBER = re.compile(r"(?:0x[0-9a-fA-F]+|[0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?)([uU]?)")
_CALL = re.compile(r"(?:^|\.)\s*([A-Za-z_][A-Za-z0-9_]*)\s*\($")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def expression_type(expression: str) -> str:
    """"bool", "dyn" (decided by the values a check supplies) or the name of the non-boolean type
    `expression` (an expression the CEL library compiled) yields."""
    constant = _constant_type(expression)
    return constant or _shape_type(without_string_literals(expression).strip())


def _constant_type(expression: str) -> str | None:
    """The exact type of an expression that reads no variable, by evaluating it (the load-time
    bounds hold already); None when it reads one or fails to evaluate (1 / 0)."""
    try:
        if cel.compile(expression).variables():
            return None
        return _value_type(cel.evaluate(expression, {}))
    except Exception:  # an error at evaluation: its shape is judged instead
        return None


def _value_type(value: object) -> str:
    for kind, name in ((bool, BOOL), (int, "int"), (float, "double"), (str, "string"), (bytes, "bytes"),
                       (list, "list"), (dict, "map")):
        if isinstance(value, kind):
            return name
    return "null" if value is None else type(value).__name__


def _shape_type(text: str) -> str:
    """The type of `text` (string literals blanked to `""`) from its outermost operator."""
    while _wrapped(text):
        text = text[1:-1].strip()
    for split in (_ternary_type, _logical_type, _relation_type, _arithmetic_type):
        found = split(text)
        if found is not None:
            return found
    return _operand_type(text)


def _ternary_type(text: str) -> str | None:
    question = _top_level(text, lambda position: text[position] == "?")
    if question is None:
        return None
    colon = _top_level(text, lambda position: text[position] == ":", start=question + 1)
    if colon is None:
        return None
    # `a ? b : c ? d : e` nests to the right: the last branch is itself a conditional.
    branches = {_shape_type(text[question + 1 : colon].strip()), _shape_type(text[colon + 1 :].strip())}
    if branches <= {BOOL}:
        return BOOL
    non_boolean = sorted(branches - {BOOL, DYN})
    return non_boolean[0] if non_boolean else DYN


def _logical_type(text: str) -> str | None:
    found = _top_level(text, lambda position: text.startswith(("||", "&&"), position))
    return BOOL if found is not None else None


def _relation_type(text: str) -> str | None:
    def relation(position: int) -> bool:
        if text.startswith(("==", "!=", "<=", ">="), position) or text[position] in "<>":
            return True
        return text.startswith("in", position) and _word_at(text, position, "in")

    return BOOL if _top_level(text, relation) is not None else None


def _arithmetic_type(text: str) -> str | None:
    def arithmetic(position: int) -> bool:
        char = text[position]
        if char in "+*/%":
            return True
        # A binary minus follows an operand; a unary one starts the text or follows an operator.
        before = text[:position].rstrip()
        return char == "-" and bool(before) and (before[-1] in ")]}\"'" or _IDENTIFIER.match(before[-1]) is not None)\
            and not re.search(r"[0-9.][eE]$", before)

    position = _top_level(text, arithmetic)
    if position is None:
        return None
    # `+` also joins strings and lists; any of them is not a boolean.
    return "string" if text[position] == "+" and '""' in text else "number"


def _operand_type(text: str) -> str:
    if text.startswith("!"):
        return BOOL
    if text.startswith("-"):
        return "number"
    if text in ("true", "false"):
        return BOOL
    if text == "null":
        return "null"
    if text == '""' or (text.endswith('""') and text[:-2].lower() in ("r", "b", "br", "rb")):
        return "bytes" if "b" in text[:-2].lower() else "string"
    number = _NUMBER.fullmatch(text)
    if number:
        return "uint" if number[1] else ("double" if any(c in text for c in ".eE") and "x" not in text else "int")
    if text.startswith("[") and _wrapped(text, "["):
        return "list"
    if text.startswith("{") and _wrapped(text, "{"):
        return "map"
    if text in _MAP_VARIABLES:
        return "map"
    if text.endswith(")"):
        opening = _opening_of(text, len(text) - 1)
        call = _CALL.search(text[: opening + 1]) if opening is not None else None
        if call:
            name = call[1]
            if name in _BOOL_FUNCTIONS:
                return BOOL
            return _TYPED_FUNCTIONS.get(name, DYN)
    return DYN  # a member, an index or a function whose type depends on its input


def _top_level(text: str, found: Callable[[int], bool], start: int = 0) -> int | None:
    """The first position from `start` outside brackets where `found` holds."""
    depth = 0
    for position in range(start, len(text)):
        char = text[position]
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif depth == 0 and found(position):
            return position
    return None


def _word_at(text: str, position: int, word: str) -> bool:
    end = position + len(word)
    before = text[position - 1] if position else " "
    after = text[end] if end < len(text) else " "
    return not (_IDENTIFIER.match(before) or before.isdigit()) and not (_IDENTIFIER.match(after) or after.isdigit())


def _opening_of(text: str, closing: int) -> int | None:
    depth = 0
    for position in range(closing, -1, -1):
        char = text[position]
        if char in ")]}":
            depth += 1
        elif char in "([{":
            depth -= 1
            if depth == 0:
                return position
    return None


def _wrapped(text: str, bracket: str = "(") -> bool:
    """Whether `text` is one bracketed group, `(...)` (or `[...]`, `{...}`), from end to end."""
    closing = {"(": ")", "[": "]", "{": "}"}[bracket]
    return text.startswith(bracket) and text.endswith(closing) and _opening_of(text, len(text) - 1) == 0
