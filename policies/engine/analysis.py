"""Static analysis of a GraphQL document: parse, select the operation, coerce its variables,
measure it (measure.py), hold it to the server's caps, and validate it."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    ASTValidationRule,
    DeferStreamDirectiveLabel,
    DeferStreamDirectiveOnRootField,
    DeferStreamDirectiveOnValidOperationsRule,
    DocumentNode,
    FragmentDefinitionNode,
    GraphQLSyntaxError,
    KnownDirectivesRule,
    NoUndefinedVariablesRule,
    NoUnusedVariablesRule,
    OperationDefinitionNode,
    OverlappingFieldsCanBeMergedRule,
    Source,
    StreamDirectiveOnListField,
    UniqueDirectivesPerLocationRule,
    UniqueVariableNamesRule,
    ValidationContext,
    VariablesAreInputTypesRule,
    VariablesInAllowedPositionRule,
    specified_rules,
    validate,
)
from graphql.language.parser import Parser

from . import messages, reasons
from . import variables as variables_module
from .limits import DEFAULT_CAPS, DIMENSIONS, METRIC_OF_DIMENSION, Limits
from .measure import RootField, Walker, bounded_cost
from .reasons import Path, Reason
from .schema import INTROSPECTION_FIELDS, SchemaBundle


@dataclass(frozen=True, slots=True)
class AnalysisLimits:
    """Bounds applied while analysing, before any policy is consulted."""

    max_document_bytes: int = 64 * 1024
    # Validating hundreds of operations takes graphql-core longer than a check may; agents
    # send one (a few in persisted documents).
    max_operations: int = 50
    # graphql-core compares every pair of same-named fields in a selection set, so
    # `{ order { id } order { id } ... }` costs it quadratic time; no real document repeats
    # one response key that often (fragments that all select `id` stay far below).
    max_repeated_selections: int = 100
    max_validation_errors: int = 20
    # graphql-core's budget for comparing overlapping fields (its default, 500,000, lets one
    # document spend most of a second there).
    validation_budget: int = 20_000
    # Server-wide hard caps: a document over one is refused before validation, and parsing
    # stops at caps.max_tokens.
    caps: Limits = DEFAULT_CAPS


@dataclass(frozen=True, slots=True)
class Metrics:
    depth: int
    aliases: int
    root_fields: int
    tokens: int
    directives: int
    cost: float

    def for_dimension(self, dimension: str) -> int | float:
        value: int | float = getattr(self, METRIC_OF_DIMENSION[dimension])
        return value

    def as_dict(self) -> dict[str, int | float]:
        cost = int(self.cost) if self.cost.is_integer() else self.cost
        return {
            "depth": self.depth,
            "aliases": self.aliases,
            "root_fields": self.root_fields,
            "tokens": self.tokens,
            "directives": self.directives,
            "cost": cost,
        }


@dataclass(frozen=True, slots=True)
class AnalysisRequest:
    """The inputs of an analysis, kept to re-analyse a suggested query and to redact."""

    bundle: SchemaBundle
    query: str
    operation_name: str | None
    variables: Mapping[str, Any]
    limits: AnalysisLimits
    default_list_size: int
    mutation_base_cost: int


@dataclass(frozen=True, eq=False)
class Analysis:
    """Everything a decision needs about one document; immutable, so it can be cached and shared."""

    request: AnalysisRequest
    failure: tuple[Reason, ...]  # non-empty when the document cannot be decided on its merits
    metrics: Metrics | None
    operation_name: str | None = None
    operation_type: str | None = None
    root_fields: tuple[RootField, ...] = ()
    introspection_paths: tuple[Path, ...] = ()
    # The variables the selected operation declares: only their values are kept in records.
    declared_variables: frozenset[str] = frozenset()
    approx_size_bytes: int = 0
    # Redaction plans per set of sensitive globs, computed on first use (see redaction.py).
    redaction_plans: dict[tuple[str, ...], Any] = field(default_factory=dict, repr=False, compare=False)
    # The syntax tree, kept only until the first redaction so that a check parses once;
    # a cached analysis then holds no tree (it can be many times the size of the text).
    parsed: list[DocumentNode] = field(default_factory=list, repr=False, compare=False)
    # The variables as coerced for the measure, kept as long as the tree (a denial's rewrite
    # measures with them again rather than coercing a large variable twice).
    coerced: list[dict[str, Any]] = field(default_factory=list, repr=False, compare=False)
    # An analysis served from the shape cache (shapes.py): the cached shape and where this
    # document's literals sit, so that redaction needs no tree of its own.
    shape_hit: Any = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return not self.failure


def analyze(
    bundle: SchemaBundle,
    query: str,
    *,
    operation_name: str | None = None,
    variables: Mapping[str, Any] | None = None,
    limits: AnalysisLimits = AnalysisLimits(),
    default_list_size: int = 10,
    mutation_base_cost: int = 10,
) -> Analysis:
    """The analysis of `query` against `bundle`; problems become `failure` reasons, never exceptions."""
    request = AnalysisRequest(
        bundle=bundle,
        query=query,
        operation_name=operation_name,
        variables=variables if isinstance(variables, Mapping) else {},
        limits=limits,
        default_list_size=default_list_size,
        mutation_base_cost=mutation_base_cost,
    )
    if not isinstance(query, str):
        return _failed(request, reasons.parse_failed("The query must be a string."))
    if variables is not None and not isinstance(variables, Mapping):
        return _failed(request, reasons.validation_failed("The variables must be a JSON object.",
                                                               messages.VARIABLES_OBJECT_HINT))
    size = _utf8_length(query)
    if size > limits.max_document_bytes:
        return _failed(request, reasons.document_too_large(limits.max_document_bytes, size),
                       operation_type=messages.attempted_mutation(query, limits.caps.max_tokens))
    try:
        return _analyze_document(request)
    except RecursionError:
        # Deep fragment chains or variables nested beyond Python's stack; the state of the
        # walk is discarded with the exception.
        return _failed(request, reasons.validation_failed("The document is nested too deeply to analyse.",
                                                          messages.NESTED_TOO_DEEPLY_HINT))


def _utf8_length(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def _failed(
    request: AnalysisRequest,
    *failure: Reason,
    metrics: Metrics | None = None,
    document: DocumentNode | None = None,
    operation: OperationDefinitionNode | None = None,
    operation_type: str | None = None,
) -> Analysis:
    """A failed analysis; it keeps the operation's type when known (a failed mutation is audited)."""
    return Analysis(
        request=request,
        failure=failure,
        metrics=metrics,
        operation_name=operation.name.value if operation is not None and operation.name else None,
        operation_type=operation.operation.value if operation is not None else operation_type,
        declared_variables=_declared(operation),
        approx_size_bytes=_approx_size(request, ()),
        parsed=[document] if document else [],
    )


def document_problems(bundle: SchemaBundle, query: str, *, limits: AnalysisLimits = AnalysisLimits()) -> list[Reason]:
    """Why `query` is no valid document for `bundle` whatever variables it is sent with (parse,
    within the token cap, and validation, within its budget); empty when it is valid. For documents
    kept to be sent later (persisted operations), whose variables are not known yet."""
    request = AnalysisRequest(bundle=bundle, query=query, operation_name=None, variables={}, limits=limits,
                              default_list_size=10, mutation_base_cost=0)
    parsed = _parse(request)
    if isinstance(parsed, Analysis):
        return list(parsed.failure)
    return _validate(request, parsed)


def _declared(operation: OperationDefinitionNode | None) -> frozenset[str]:
    if operation is None:
        return frozenset()
    return frozenset(definition.variable.name.value for definition in operation.variable_definitions or ())


def _analyze_document(request: AnalysisRequest) -> Analysis:
    """The steps of an analysis: parse -> select the operation -> coerce and measure -> hold to
    the caps -> validate; the first step that fails ends it (with what was measured so far)."""
    parsed = _parse(request)
    if isinstance(parsed, Analysis):
        return parsed
    document = parsed
    operation = _operation_of(request, document)
    if isinstance(operation, Analysis):
        return operation
    variables, variable_problems = variables_module.coerced_variables(
        request.bundle.schema, operation, request.variables, request.limits.max_validation_errors
    )
    walker = Walker(request.bundle, _fragments(document), variables, request.default_list_size)
    root_type = request.bundle.schema.get_root_type(operation.operation)
    root_fields, measured = walker.measure_root(root_type, operation, operation.operation.value)
    base_cost = request.mutation_base_cost if operation.operation.value == "mutation" else 0
    metrics = Metrics(
        depth=measured.depth,
        aliases=measured.aliases,
        root_fields=len(root_fields),
        tokens=document.token_count,
        directives=measured.directives,
        cost=bounded_cost(measured.cost + base_cost),
    )
    failure = _over_caps(request, metrics, walker.most_repeated) or _validate(request, document) or variable_problems
    if failure:
        return _failed(request, *failure, metrics=metrics, document=document, operation=operation)
    introspection = tuple(
        path
        for root in root_fields
        for coordinate, path in root.coordinates.items()
        if coordinate.rpartition(".")[2] in INTROSPECTION_FIELDS
    )
    return Analysis(
        request=request,
        failure=(),
        metrics=metrics,
        operation_name=operation.name.value if operation.name else None,
        operation_type=operation.operation.value,
        root_fields=root_fields,
        introspection_paths=introspection,
        declared_variables=_declared(operation),
        approx_size_bytes=_approx_size(request, root_fields),
        parsed=[document],
        coerced=[variables],
    )


def _parse(request: AnalysisRequest) -> DocumentNode | Analysis:
    """The document, or the failed analysis of one that does not parse within the token cap."""
    caps = request.limits.caps
    attempted = messages.attempted_mutation
    try:
        return Parser(Source(request.query), max_tokens=caps.max_tokens).parse_document()
    except GraphQLSyntaxError as error:
        if caps.max_tokens is not None and error.message.endswith(
            f"more than {caps.max_tokens} tokens. Parsing aborted."
        ):
            return _failed(request, reasons.limit_exceeded("max_tokens", caps.max_tokens, None, None),
                           operation_type=attempted(request.query, caps.max_tokens))
        return _failed(request, reasons.parse_failed(messages.located(error)),
                       operation_type=attempted(request.query, caps.max_tokens))
    except RecursionError:
        return _failed(request, reasons.parse_failed("Syntax Error: Document is nested too deeply."),
                       operation_type=attempted(request.query, caps.max_tokens))


def _operation_of(request: AnalysisRequest, document: DocumentNode) -> OperationDefinitionNode | Analysis:
    """The operation to decide on, or the failed analysis of a document with too many or no such one."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if len(operations) > request.limits.max_operations:
        return _failed(
            request,
            reasons.validation_failed(
                f"The document defines {len(operations)} operations;"
                f" at most {request.limits.max_operations} are accepted.",
                messages.too_many_operations_hint(request.limits.max_operations),
            ),
        )
    operation = _select_operation(operations, request.operation_name)
    if operation is None:
        names = [op.name.value for op in operations if op.name is not None]
        return _failed(request, reasons.operation_not_found(request.operation_name, names), document=document)
    return operation


def _fragments(document: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    fragments: dict[str, FragmentDefinitionNode] = {}
    for definition in document.definitions:
        if isinstance(definition, FragmentDefinitionNode):
            fragments.setdefault(definition.name.value, definition)  # the first of a name, as validation reports
    return fragments


def _over_caps(request: AnalysisRequest, metrics: Metrics, most_repeated: tuple[str, int]) -> list[Reason]:
    """The server's hard caps the measured document exceeds (checked before validation, which
    they keep affordable), and a field repeated too often in one selection set."""
    caps = request.limits.caps
    over = [
        reasons.limit_exceeded(dimension, cap, metrics.for_dimension(dimension), None)
        for dimension in DIMENSIONS
        if (cap := caps.get(dimension)) is not None and metrics.for_dimension(dimension) > cap
    ]
    key, repeats = most_repeated
    if repeats > request.limits.max_repeated_selections:
        over.append(
            reasons.validation_failed(
                f"The document selects {key!r} {repeats} times in one selection set;"
                f" at most {request.limits.max_repeated_selections} are accepted.",
                messages.repeated_selection_hint(request.limits.max_repeated_selections),
            )
        )
    return over


def _select_operation(
    operations: list[OperationDefinitionNode], name: str | None
) -> OperationDefinitionNode | None:
    if name is None:
        candidates = operations
    else:
        candidates = [op for op in operations if op.name is not None and op.name.value == name]
    return candidates[0] if len(candidates) == 1 else None


# Rules with nothing to check in a document without a `$` (no variable is defined or used) or
# without an `@` (no directive). The variable rules walk the whole operation a second time to
# collect variable usages, which is ~40% of validating a document that has none.
_VARIABLE_RULES: frozenset[type[ASTValidationRule]] = frozenset(
    {
        VariablesAreInputTypesRule,
        UniqueVariableNamesRule,
        NoUndefinedVariablesRule,
        NoUnusedVariablesRule,
        VariablesInAllowedPositionRule,
    }
)
_DIRECTIVE_RULES: frozenset[type[ASTValidationRule]] = frozenset(
    {
        KnownDirectivesRule,
        UniqueDirectivesPerLocationRule,
        DeferStreamDirectiveLabel,
        DeferStreamDirectiveOnRootField,
        DeferStreamDirectiveOnValidOperationsRule,
        StreamDirectiveOnListField,
    }
)


@functools.cache
def _validation_rules(
    budget: int, *, variables: bool = True, directives: bool = True
) -> tuple[type[ASTValidationRule], ...]:
    """graphql-core's specified rules, with the overlapping-fields rule on a smaller budget,
    without the variable or directive rules when the document has no variable or directive."""

    class BudgetedOverlappingFieldsRule(OverlappingFieldsCanBeMergedRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            self.rule_context.remaining_complexity_budget = budget

    skipped = (frozenset() if variables else _VARIABLE_RULES) | (frozenset() if directives else _DIRECTIVE_RULES)
    return tuple(
        BudgetedOverlappingFieldsRule if rule is OverlappingFieldsCanBeMergedRule else rule
        for rule in specified_rules
        if rule not in skipped
    )


def _validate(request: AnalysisRequest, document: DocumentNode) -> list[Reason]:
    limits = request.limits
    # A `$` or `@` inside a string or comment only keeps rules that then find nothing.
    errors = validate(
        request.bundle.schema,
        document,
        _validation_rules(
            limits.validation_budget, variables="$" in request.query, directives="@" in request.query
        ),
        max_errors=limits.max_validation_errors,
        hide_suggestions=True,  # "Did you mean ...?" would reveal the schema
    )
    return [
        reasons.validation_failed(_ABORTED if error.message == "Validation aborted." else messages.located(error))
        for error in errors
    ]


# graphql-core's bare message when the overlapping-fields budget runs out (or its stack does).
_ABORTED = (
    "Validation aborted: the document is too complex to validate"
    " (it selects the same fields too often, or nests too deeply)."
)


def _approx_size(request: AnalysisRequest, root_fields: Sequence[RootField]) -> int:
    """Rough bytes held by an analysis, for a cache bounded by memory."""
    size = 1_000 + len(request.query) + approx_json_bytes(request.variables)
    for root in root_fields:
        # Argument values are shared with the variables or small literals of the query.
        size += 300 + 50 * len(root.arguments)
        size += sum(120 + 60 * len(path) for path in root.coordinates.values())
    return size


def approx_json_bytes(value: Any) -> int:
    """Rough in-memory bytes of a JSON-like value (four times its JSON length)."""
    try:
        return 4 * len(json.dumps(value, default=repr))
    except (RecursionError, ValueError, TypeError):
        # Nested beyond the encoder's stack: a deep chain of small containers.
        return 64 * _JSON_NESTING_FALLBACK


# Deeply nested values are bounded by the request body cap; charge them as this many nodes.
_JSON_NESTING_FALLBACK = 16_384
