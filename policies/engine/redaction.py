"""Redaction of sensitive argument values from variables and documents before they are stored."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    InlineFragmentNode,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    SelectionNode,
    Source,
    TokenKind,
    ValueNode,
    VariableNode,
    get_named_type,
    parse,
)
from graphql.language import Lexer

from .analysis import Analysis
from .policy import GlobSet
from .reasons import DOCUMENT_TOO_LARGE, TOKEN_LIMIT
from .schema import SchemaBundle

REDACTED = "[REDACTED]"
_REDACTED_LITERAL = f'"{REDACTED}"'
_LITERAL_TOKENS = frozenset({TokenKind.STRING, TokenKind.BLOCK_STRING, TokenKind.INT, TokenKind.FLOAT})

IsSensitive = Callable[[str], bool]


@dataclass(frozen=True, slots=True)
class _Plan:
    """How to redact one document: its redacted text, and which variables hold sensitive values."""

    query: str
    is_sensitive: IsSensitive
    whole_variables: frozenset[str]  # bound to a sensitive argument or input field somewhere
    typed_variables: Mapping[str, tuple[GraphQLInputType, ...]]  # others: redact inside by type
    unreadable: bool  # the document could not be read, so every variable value is redacted

    def redact_variables(self, variables: Mapping[str, Any] | None) -> dict[str, Any] | None:
        if variables is None:
            return None
        if not isinstance(variables, Mapping):
            return {"variables": REDACTED}
        redacted = {}
        for name, value in variables.items():
            if self.unreadable or name in self.whole_variables:
                redacted[name] = REDACTED
                continue
            try:
                for type_ in self.typed_variables.get(name, ()):
                    value = _redact_input(value, type_, self.is_sensitive)
            except RecursionError:
                value = REDACTED
            redacted[name] = value
        return redacted


def redact(
    bundle: SchemaBundle,
    analysis_or_document: Analysis | str,
    variables: Mapping[str, Any] | None,
    sensitive_globs: Sequence[str],
) -> tuple[dict[str, Any] | None, str]:
    """(variables, query) with every value of a sensitive argument replaced by "[REDACTED]".

    Sensitive: `Type.field.argument` or `Input.field` coordinates matching `sensitive_globs`
    (`*` crosses dots), or marked @sensitive in the SDL. A document that cannot be read keeps
    its shape with every literal redacted, and all its variables are redacted.
    """
    globs = tuple(sensitive_globs)
    if isinstance(analysis_or_document, Analysis):
        plan = analysis_or_document.redaction_plans.get(globs)
        if plan is None:
            plan = analysis_or_document.redaction_plans[globs] = _plan(bundle, analysis_or_document, globs)
    else:
        plan = _plan(bundle, analysis_or_document, globs)
    assert isinstance(plan, _Plan)
    return plan.redact_variables(variables), plan.query


def _plan(bundle: SchemaBundle, analysis_or_document: Analysis | str, globs: tuple[str, ...]) -> _Plan:
    matcher = GlobSet.of(globs)
    sensitive = bundle.sensitive_arguments

    def is_sensitive(coordinate: str) -> bool:
        return coordinate in sensitive or matcher(coordinate)

    document = None
    if isinstance(analysis_or_document, Analysis):
        query = analysis_or_document.request.query
        if analysis_or_document.parsed:
            document = analysis_or_document.parsed.pop()
            analysis_or_document.coerced.clear()
        elif {reason.code for reason in analysis_or_document.failure} & {DOCUMENT_TOO_LARGE, TOKEN_LIMIT}:
            # Never read: too large to scan for secrets, so none of it is kept.
            return _Plan(f"{REDACTED} ({len(query)} characters)", is_sensitive, frozenset(), {}, True)
    else:
        query = analysis_or_document
    if document is None:
        try:
            document = parse(query)
        except (GraphQLError, RecursionError):
            return _Plan(_redact_all_literals(query), is_sensitive, frozenset(), {}, True)
    finder = _SensitiveValues(bundle, is_sensitive)
    try:
        finder.scan(document.definitions)
    except RecursionError:
        return _Plan(_redact_all_literals(query), is_sensitive, frozenset(), {}, True)
    return _Plan(
        _replace_spans(query, finder.spans),
        is_sensitive,
        frozenset(finder.whole_variables),
        {name: tuple(types) for name, types in finder.typed_variables.items()},
        # In a document that failed analysis, variables may sit where no type says what they hold.
        unreadable=isinstance(analysis_or_document, Analysis) and not analysis_or_document.ok,
    )


class _SensitiveValues:
    """Finds literal spans and variables that sit where a sensitive value goes."""

    def __init__(self, bundle: SchemaBundle, is_sensitive: IsSensitive) -> None:
        self.bundle = bundle
        self.is_sensitive = is_sensitive
        self.spans: list[tuple[int, int]] = []
        self.whole_variables: set[str] = set()
        self.typed_variables: dict[str, list[GraphQLInputType]] = {}

    def scan(self, definitions: Iterable[Any]) -> None:
        schema = self.bundle.schema
        operations = []
        for definition in definitions:
            if isinstance(definition, OperationDefinitionNode):
                operations.append(definition)
                self.selections(
                    schema.get_root_type(definition.operation), definition.selection_set.selections
                )
            elif isinstance(definition, FragmentDefinitionNode):
                fragment_type = schema.get_type(definition.type_condition.name.value)
                self.selections(fragment_type, definition.selection_set.selections)
        for operation in operations:
            for variable in operation.variable_definitions or ():
                if (
                    variable.default_value is not None
                    and variable.variable.name.value in self.whole_variables
                ):
                    self.add_span(variable.default_value)

    def selections(self, parent: GraphQLNamedType | None, selections: Sequence[SelectionNode]) -> None:
        for selection in selections:
            if isinstance(selection, FieldNode):
                name = selection.name.value
                info = self.bundle.field_info(parent, name) if parent is not None else None
                owner = f"{parent.name}.{name}" if parent is not None else name
                for argument in selection.arguments or ():
                    definition = info.arguments.get(argument.name.value) if info else None
                    coordinate = f"{owner}.{argument.name.value}"
                    # An argument the schema does not define (a misspelt `pasword`) says nothing
                    # of what it holds: its value is treated as sensitive.
                    self.value(
                        argument.value,
                        coordinate,
                        definition[0] if definition else None,
                        definition is None or self.is_sensitive(coordinate),
                    )
                if selection.selection_set is not None:
                    self.selections(info.type if info else None, selection.selection_set.selections)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                fragment_type = self.bundle.schema.get_type(condition.name.value) if condition else parent
                self.selections(fragment_type, selection.selection_set.selections)

    def value(
        self, node: ValueNode, coordinate: str, type_: GraphQLInputType | None, sensitive: bool
    ) -> None:
        """Record `node`, the value at `coordinate` (unknown input types extend the coordinate,
        so `*.password` still matches inside an invalid document)."""
        if isinstance(node, VariableNode):
            name = node.name.value
            if sensitive:
                self.whole_variables.add(name)
            elif type_ is not None:
                self.typed_variables.setdefault(name, []).append(type_)
            return
        if sensitive:
            self.add_span(node)
        if isinstance(node, ListValueNode):
            item_type = _item_type(type_)
            for item in node.values:
                self.value(item, coordinate, item_type, sensitive)
        elif isinstance(node, ObjectValueNode):
            named = get_named_type(type_) if type_ is not None else None
            for input_field in node.fields:
                name = input_field.name.value
                field_type = None
                field_coordinate = f"{coordinate}.{name}"
                unknown = False
                if isinstance(named, GraphQLInputObjectType):
                    definition = named.fields.get(name)
                    field_type = definition.type if definition else None
                    field_coordinate = f"{named.name}.{name}"
                    unknown = definition is None
                field_sensitive = sensitive or unknown or self.is_sensitive(field_coordinate)
                self.value(input_field.value, field_coordinate, field_type, field_sensitive)

    def add_span(self, node: ValueNode) -> None:
        if node.loc is not None:
            self.spans.append((node.loc.start, node.loc.end))


def _item_type(type_: GraphQLInputType | None) -> GraphQLInputType | None:
    if isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    return type_.of_type if isinstance(type_, GraphQLList) else type_


def _redact_input(value: Any, type_: GraphQLInputType, is_sensitive: IsSensitive) -> Any:
    """`value` for an argument of type `type_`, with sensitive input fields redacted inside."""
    if isinstance(value, list):
        item_type = _item_type(type_)
        return [_redact_input(item, item_type, is_sensitive) for item in value] if item_type else value
    named = get_named_type(type_)
    if not isinstance(value, Mapping) or not isinstance(named, GraphQLInputObjectType):
        return value
    redacted = {}
    for name, item in value.items():
        definition = named.fields.get(name)
        if definition is None or is_sensitive(f"{named.name}.{name}"):
            redacted[name] = REDACTED  # an undefined input field is treated as sensitive
        else:
            redacted[name] = _redact_input(item, definition.type, is_sensitive)
    return redacted


def _replace_spans(text: str, spans: Iterable[tuple[int, int]]) -> str:
    parts = []
    position = 0
    for start, end in sorted(spans):
        if start < position:
            continue  # inside a span already redacted
        parts.append(text[position:start])
        parts.append(_REDACTED_LITERAL)
        position = end
    parts.append(text[position:])
    return "".join(parts)


# An unparseable document is kept for the record up to this many tokens.
MAX_UNPARSEABLE_TOKENS = 2_000


def _redact_all_literals(text: str) -> str:
    """Every literal of an unparseable document redacted; from a lexical error (or the token
    bound) on, everything."""
    lexer = Lexer(Source(text))
    spans: list[tuple[int, int]] = []
    try:
        token = lexer.advance()
        for _ in range(MAX_UNPARSEABLE_TOKENS):
            if token.kind is TokenKind.EOF:
                return _replace_spans(text, spans)
            if token.kind in _LITERAL_TOKENS:
                spans.append((token.start, token.end))
            token = lexer.advance()
    except GraphQLError:
        pass
    return _replace_spans(text[: lexer.token.end], spans) + f" {REDACTED}"


# Context is free-form (what the agent chose to send for `request.context` in conditions), so no
# schema says which values are secret: values under keys that name a secret are redacted.
_SECRET_KEY = re.compile(r"pass|secret|token|auth|cookie|credential|api[_-]?key|private|ssn|card|session", re.I)
_MAX_CONTEXT_DEPTH = 32


def redact_context(context: Mapping[str, Any], _depth: int = 0) -> dict[str, Any]:
    """`context` with the value of every key that names a secret (password, token, api_key, ...)
    replaced by "[REDACTED]", at any depth; structures nested deeper than 32 are redacted whole."""
    redacted: dict[str, Any] = {}
    for key, value in context.items():
        if _SECRET_KEY.search(str(key)) or _depth >= _MAX_CONTEXT_DEPTH:
            redacted[key] = REDACTED
        elif isinstance(value, Mapping):
            redacted[key] = redact_context(value, _depth + 1)
        elif isinstance(value, list):
            redacted[key] = [redact_context(item, _depth + 1) if isinstance(item, Mapping) else item for item in value]
        else:
            redacted[key] = value
    return redacted
