"""Bounds on the work one CEL condition can do, checked when a policy loads and at every check.

The CEL library we use has no cost limit of its own, and some of its operations are quadratic:
`map()` and `filter()` copy their accumulator on every step (1,000 items: 57 ms; 20,000: 22 s),
and every `+` of two lists copies both (a chain of 240 `+` over 100-item lists: 220 ms). So the
work of a condition is bounded by two sets of caps, chosen by measurement (docs/cel-bounds.md):

- at load, the shape of the expression: few comprehensions, none inside another, no `+` in
  the list a comprehension walks, few `+` in all, and small list and map literals;
- at each check, the size of what gqlgov hands to the expression (`context`, `args`, `claims`
  and the agent's attributes): the items of all their lists and maps together, and the
  characters of all their strings together.

With both, the worst expression the load limits admit runs in a few milliseconds at the caps
(`hostile.cel_*` in `manage.py bench`); a check over the input caps is denied with
EXPRESSION_INPUT_TOO_LARGE instead of being evaluated.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any


def string_literal_spans(expression: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each CEL string literal in `expression`, quotes included, in one
    pass (a regular expression for escaped literals backtracks for minutes on unclosed ones)."""
    position, end = 0, len(expression)
    while position < end:
        quote_char = expression[position]
        if quote_char not in "'\"":
            position += 1
            continue
        start = position
        raw = "r" in expression[max(0, position - 2):position].lower()
        quote = quote_char * 3 if expression.startswith(quote_char * 3, position) else quote_char
        position += len(quote)
        while position < end and not expression.startswith(quote, position):
            if len(quote) == 1 and expression[position] == "\n":
                break  # unclosed: CEL refuses it; what follows is counted
            position += 2 if expression[position] == "\\" and not raw else 1
        position += len(quote)
        yield start, min(position, end)


def without_string_literals(expression: str) -> str:
    """`expression` with each CEL string literal replaced by `""` (the shape checks read no strings)."""
    kept: list[str] = []
    last = 0
    for start, end in string_literal_spans(expression):
        kept.append(expression[last:start])
        kept.append('""')
        last = end
    kept.append(expression[last:])
    return "".join(kept)


# Load-time shape limits.
MAX_CEL_COMPREHENSIONS = 4
MAX_CEL_CONCATENATIONS = 4  # `+` operators, on strings, numbers or lists alike
MAX_CEL_LITERAL_ITEMS = 100  # items of all list and map literals of one expression together

# Check-time input caps (the same for every source, counted over all of them together).
MAX_CEL_INPUT_ITEMS = 100
MAX_CEL_INPUT_CHARS = 8_192

_COMPREHENSION = re.compile(r"\.\s*(?:all|exists_one|exists|map|filter)\s*\(")
_IDENTIFIER_CHAR = re.compile(r"[A-Za-z0-9_]")
_CLOSING = {")": "(", "]": "[", "}": "{"}


def shape_problem(expression: str) -> str | None:
    """Why `expression` (string literals already blanked) does too much work, or None.

    A token-level reading, sound for the operations the CEL library offers: list lengths only
    grow through literals and `+`, and only comprehensions repeat work.
    """
    pairs = _bracket_pairs(expression)
    comprehensions = [(match.start(), match.end() - 1) for match in _COMPREHENSION.finditer(expression)]
    if len(comprehensions) > MAX_CEL_COMPREHENSIONS:
        return (
            f"too much work: {len(comprehensions)} comprehensions (all, exists, exists_one, map,"
            f" filter), at most {MAX_CEL_COMPREHENSIONS}"
        )
    for dot, opening in comprehensions:
        closing = pairs.get(opening, len(expression))
        if any(opening < other < closing for other, _ in comprehensions):
            return "too much work: a comprehension inside another one; test membership with `in` instead"
        start = _receiver_start(expression, dot, pairs)
        # A comprehension chained before this one keeps its list's length, whatever its body adds.
        chained = [(o, pairs.get(o, dot)) for d, o in comprehensions if start <= d < dot]
        receiver = "".join(
            char for position, char in enumerate(expression[start:dot], start)
            if not any(o <= position <= c for o, c in chained)
        )
        if "+" in receiver:
            return "too much work: a comprehension over a concatenation (`+`); apply it to each list"
        if expression[dot:opening].rstrip("( \t\r\n").endswith("map"):
            problem = _map_transform_problem(expression[opening + 1 : closing])
            if problem is not None:
                return problem
    concatenations = expression.count("+")
    if concatenations > MAX_CEL_CONCATENATIONS:
        return f"too much work: {concatenations} `+` operators, at most {MAX_CEL_CONCATENATIONS}"
    items = _literal_items(expression)
    if items > MAX_CEL_LITERAL_ITEMS:
        return f"too much work: {items} items in list and map literals, at most {MAX_CEL_LITERAL_ITEMS}"
    return None


# The library deep-copies map()'s growing result on every step, so a transform that yields a
# whole list (`l.map(x, l)`, `l.map(x, [x, x, x])`) costs the cube of the list's length.
_OUTSIDE_VALUE = re.compile(r"\b(?:context|args|claims|agent|request)\b|[\[{]")


def _map_transform_problem(arguments: str) -> str | None:
    """Why a map()'s arguments (`x, transform` or `x, predicate, transform`) do too much work."""
    _variable, _comma, rest = arguments.partition(",")
    if _OUTSIDE_VALUE.search(rest):
        return (
            "too much work: a map() transform may use only its own variable and plain literals"
            " (no context, args, claims, agent, request, list or map); test with exists() or all() instead"
        )
    return None


def _bracket_pairs(text: str) -> dict[int, int]:
    """Opening bracket position -> its closing position (unbalanced ones are left out: CEL refuses them)."""
    pairs: dict[int, int] = {}
    stack: list[int] = []
    for position, char in enumerate(text):
        if char in "([{":
            stack.append(position)
        elif char in _CLOSING and stack and text[stack[-1]] == _CLOSING[char]:
            pairs[stack.pop()] = position
    return pairs


def _receiver_start(text: str, dot: int, pairs: Mapping[int, int]) -> int:
    """Where the operand a `.method(` applies to begins: the postfix chain that ends at `dot`."""
    openers = {closing: opening for opening, closing in pairs.items()}
    position = dot
    while position > 0:
        char = text[position - 1]
        if char.isspace() or char == "." or _IDENTIFIER_CHAR.match(char):
            position -= 1
        elif char in _CLOSING and position - 1 in openers:
            position = openers[position - 1]
        else:
            break
    return position


def _literal_items(text: str) -> int:
    """Items of every list and map literal, in one pass (a `[` after an operand is an index)."""
    items = 0
    # Per open bracket: whether it is a literal, whether anything is inside it, its commas.
    stack: list[list[Any]] = []
    last = ""  # the last character that is not a space
    word = ""  # the identifier or keyword ending at `last`
    spaced = False
    for char in text:
        if char in "([{":
            literal = char == "{" or (char == "[" and not _follows_operand(last, word))
            stack.append([literal, False, 0])
        elif char in _CLOSING:
            if stack:
                literal, filled, commas = stack.pop()
                if literal and filled:
                    items += 1 + commas
        elif not char.isspace() and stack:
            stack[-1][1] = True
            if char == ",":
                stack[-1][2] += 1
        if char.isspace():
            spaced = True
            continue
        joined = not spaced and _IDENTIFIER_CHAR.match(last) is not None
        word = (word + char if joined else char) if _IDENTIFIER_CHAR.match(char) else ""
        last, spaced = char, False
    return items


def _follows_operand(last: str, word: str) -> bool:
    """Whether a `[` after `last` (and the identifier `word` ending there) indexes an operand."""
    if last in (")", "]", '"', "'"):
        return True
    return bool(word) and word != "in"


@dataclass(frozen=True, slots=True)
class InputExcess:
    """Which input cap a check's CEL inputs exceed, and by how much."""

    cap: str  # "items" or "chars"
    limit: int
    actual: int  # counting stops soon after the limit: at least this much


@dataclass(frozen=True, slots=True)
class InputSize:
    """Items of the lists and maps, and characters of the strings (map keys too), counted so far."""

    items: int = 0
    chars: int = 0

    def excess(self) -> InputExcess | None:
        if self.items > MAX_CEL_INPUT_ITEMS:
            return InputExcess("items", MAX_CEL_INPUT_ITEMS, self.items)
        if self.chars > MAX_CEL_INPUT_CHARS:
            return InputExcess("chars", MAX_CEL_INPUT_CHARS, self.chars)
        return None


def input_size(values: Mapping[str, Any], start: InputSize = InputSize()) -> InputSize:
    """`start` plus the size of the values (JSON-like); counting stops once a cap is exceeded."""
    counter = _InputCounter(start)
    try:
        for value in values.values():
            counter.visit(value)
    except _OverCap:
        pass
    except RecursionError:  # nested beyond Python's stack: far over any cap
        return InputSize(MAX_CEL_INPUT_ITEMS + 1, counter.chars)
    return InputSize(counter.items, counter.chars)


class _OverCap(Exception):
    pass


class _InputCounter:
    def __init__(self, start: InputSize) -> None:
        self.items = start.items
        self.chars = start.chars

    def visit(self, value: Any) -> None:
        if isinstance(value, str):
            self._add_chars(len(value))
        elif isinstance(value, Mapping):
            self._add_items(len(value))
            for key, item in value.items():
                if isinstance(key, str):
                    self._add_chars(len(key))
                self.visit(item)
        elif isinstance(value, list | tuple):
            self._add_items(len(value))
            for item in value:
                self.visit(item)

    def _add_items(self, count: int) -> None:
        self.items += count
        if self.items > MAX_CEL_INPUT_ITEMS:
            raise _OverCap

    def _add_chars(self, count: int) -> None:
        self.chars += count
        if self.chars > MAX_CEL_INPUT_CHARS:
            raise _OverCap


def conjuncts(expression: str) -> list[str]:
    """The clauses of `expression` joined by top-level `&&` (outside brackets and strings), or the
    whole expression when it is not such a conjunction (a top-level `||` or `?:` binds looser)."""
    string_ends = dict(string_literal_spans(expression))  # start -> end
    splits: list[int] = []
    depth = 0
    position, end = 0, len(expression)
    while position < end:
        if position in string_ends:
            position = string_ends[position]
            continue
        char = expression[position]
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif depth == 0 and (expression.startswith("||", position) or char == "?"):
            return [expression.strip()]
        elif depth == 0 and expression.startswith("&&", position):
            splits.append(position)
            position += 1
        position += 1
    starts, ends = [0, *(split + 2 for split in splits)], [*splits, end]
    clauses = [expression[start:stop].strip() for start, stop in zip(starts, ends, strict=True)]
    return clauses if all(clauses) else [expression.strip()]
