"""Schemas: building them from SDL (strictly, else leniently), their operations, cost data and diffs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    ConstDirectiveNode,
    DocumentNode,
    GraphQLError,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLSyntaxError,
    GraphQLType,
    SchemaMetaFieldDef,
    TypeMetaFieldDef,
    TypeNameMetaFieldDef,
    build_ast_schema,
    find_breaking_changes,
    find_dangerous_changes,
    get_named_type,
    is_abstract_type,
    is_composite_type,
    parse,
    validate_schema,
)
from graphql.validation.validate import validate_sdl

from .values import to_json

COST_DIRECTIVE = "cost"
LIST_SIZE_DIRECTIVE = "listSize"
SENSITIVE_DIRECTIVE = "sensitive"
INTROSPECTION_FIELDS = frozenset({"__schema", "__type"})
ROOT_OPERATION_KINDS = ("query", "mutation", "subscription")


class SchemaError(ValueError):
    """SDL that cannot become a schema."""


class SchemaSyntaxError(SchemaError):
    """SDL that does not parse; `line` and `column` point at the problem."""

    def __init__(self, message: str, line: int | None, column: int | None) -> None:
        super().__init__(message if line is None else f"{message} (line {line}, column {column})")
        self.message = message
        self.line = line
        self.column = column


class SchemaTooLarge(SchemaError):
    """SDL with more tokens than the caller accepts (`build_schema(max_tokens=...)`)."""

    def __init__(self, max_tokens: int) -> None:
        super().__init__(f"The SDL has more than {max_tokens:,} tokens.")
        self.max_tokens = max_tokens


class SchemaTooComplex(SchemaError):
    """SDL whose interface implementations would take graphql-core too long to validate."""

    def __init__(self, checks: int, max_checks: int) -> None:
        super().__init__(
            f"The SDL's interface implementations need {checks:,} checks; at most {max_checks:,} are accepted"
            " (a type implementing many interfaces that each implement many others)."
        )
        self.checks = checks
        self.max_checks = max_checks


# graphql-core validates each implemented interface against the interfaces it implements in
# turn: 800 interfaces each implementing the previous 50 (1.9 million checks) took 30 s and
# produced 934,150 diagnostics. GitHub's public schema needs 606 checks; 20,000 validate in
# about 0.15 s.
MAX_INTERFACE_CHECKS = 20_000
# Diagnostics kept with a lenient schema: the first ones, each cut short, and a count of the rest.
MAX_DIAGNOSTICS = 100
MAX_DIAGNOSTIC_CHARS = 500


class SchemaBuildError(SchemaError):
    """SDL that parses but describes no buildable schema, even leniently (e.g. unknown types)."""


@dataclass(frozen=True, slots=True)
class ListSize:
    """A field's @listSize: how many items its list (or its `sized_fields`) will hold."""

    assumed_size: int | None
    slicing_arguments: tuple[tuple[str, ...], ...]  # dotted paths split, e.g. ("input", "first")
    sized_fields: tuple[tuple[str, ...], ...]  # Apollo allows nested paths: "results { page }"


@dataclass(frozen=True, slots=True)
class FieldInfo:
    """What the analysis needs about one field of one type, computed once per bundle."""

    name: str
    coordinate: str
    # The coordinate plus those it stands for through interfaces, so a deny on Customer.ssn
    # catches `person { ssn }` on an interface Customer implements, and vice versa.
    coordinates: tuple[str, ...]
    type: GraphQLNamedType
    is_list: bool
    weight: float  # @cost on the field, else on its type, else 1 for composite types, 0 otherwise
    list_size: ListSize | None
    arguments: Mapping[str, tuple[GraphQLInputType, float | None]]  # type and @cost weight
    argument_defaults: Mapping[str, Any]  # SDL defaults as JSON-like values


@dataclass(frozen=True, eq=False)
class SchemaBundle:
    """A built schema with everything checks precompute from it; immutable and shared freely."""

    schema: GraphQLSchema
    operations: list[str]
    coordinates: frozenset[str]
    type_weights: Mapping[str, float]
    field_weights: Mapping[str, float]
    argument_weights: Mapping[str, float]  # "Type.field.argument" and "Input.field"
    list_sizes: Mapping[str, ListSize]
    sensitive_arguments: frozenset[str]  # "Type.field.argument" and "Input.field" marked @sensitive
    lenient: bool
    diagnostics: list[str]
    # Filled lazily by field_info() with fields that exist (so bounded by the schema, whatever
    # names documents invent); a race only computes the same entry twice.
    _field_infos: dict[tuple[str, str], FieldInfo] = field(default_factory=dict, repr=False)

    def field_info(self, parent: GraphQLNamedType, name: str) -> FieldInfo | None:
        """The field `name` of `parent` (meta fields included), or None if it has no such field."""
        key = (parent.name, name)
        info = self._field_infos.get(key)
        if info is None:
            info = self._make_field_info(parent, name)
            if info is not None:
                self._field_infos[key] = info
        return info

    def _make_field_info(self, parent: GraphQLNamedType, name: str) -> FieldInfo | None:
        definition = _field_definition(self.schema, parent, name)
        if definition is None:
            return None
        coordinate = f"{parent.name}.{name}"
        return_type = get_named_type(definition.type)
        weight = self.field_weights.get(coordinate, self.type_weights.get(return_type.name))
        if weight is None:
            weight = 1.0 if is_composite_type(return_type) else 0.0
        arguments = {
            arg_name: (arg.type, self.argument_weights.get(f"{coordinate}.{arg_name}"))
            for arg_name, arg in definition.args.items()
        }
        defaults = {
            arg_name: to_json(arg.ast_node.default_value, {})
            for arg_name, arg in definition.args.items()
            if arg.ast_node is not None and arg.ast_node.default_value is not None
        }
        return FieldInfo(
            name=name,
            coordinate=coordinate,
            coordinates=(coordinate, *self._related_coordinates(parent, name)),
            type=return_type,
            is_list=_is_list(definition.type),
            weight=weight,
            list_size=self.list_sizes.get(coordinate),
            arguments=arguments,
            argument_defaults=defaults,
        )

    def _related_coordinates(self, parent: GraphQLNamedType, name: str) -> list[str]:
        related: list[str] = []
        if is_abstract_type(parent):
            for possible in self.schema.get_possible_types(parent):
                if name in possible.fields:
                    related.append(f"{possible.name}.{name}")
        if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
            related.extend(
                f"{interface.name}.{name}" for interface in parent.interfaces if name in interface.fields
            )
        return related


def _field_definition(schema: GraphQLSchema, parent: GraphQLNamedType, name: str) -> GraphQLField | None:
    if name == "__typename":
        return TypeNameMetaFieldDef if is_composite_type(parent) else None
    if name in INTROSPECTION_FIELDS:
        # Only valid on the query root; elsewhere validation rejects them, but the walk over an
        # invalid document must still see (and refuse) them.
        return SchemaMetaFieldDef if name == "__schema" else TypeMetaFieldDef
    if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
        definition: GraphQLField | None = parent.fields.get(name)
        return definition
    return None


def _is_list(type_: GraphQLType) -> bool:
    if isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    return isinstance(type_, GraphQLList)


@dataclass(frozen=True)
class SchemaDiff:
    """What changed between two schema versions."""

    operations_added: list[str]
    operations_removed: list[str]
    breaking_changes: list[dict[str, str]]
    dangerous_changes: list[dict[str, str]]

    def as_dict(self) -> dict[str, list[Any]]:
        return {
            "operations_added": self.operations_added,
            "operations_removed": self.operations_removed,
            "breaking_changes": self.breaking_changes,
            "dangerous_changes": self.dangerous_changes,
        }


def build_schema(
    sdl: str, *, max_tokens: int | None = None, max_interface_checks: int = MAX_INTERFACE_CHECKS
) -> SchemaBundle:
    """The schema for `sdl`: strict if graphql-core accepts it, else lenient with `diagnostics`
    (at most MAX_DIAGNOSTICS of them, and a count of the rest).

    Raises SchemaSyntaxError for SDL that does not parse, SchemaTooLarge for SDL with more than
    `max_tokens` tokens (the parser stops there, so refusing costs little), SchemaTooComplex for
    SDL whose interfaces need more than `max_interface_checks` checks (counted before building)
    and SchemaBuildError for SDL that describes no schema even when its problems are ignored.
    """
    try:
        # Without node locations: a third fewer objects for GitHub's 1,600 types. Syntax errors
        # still carry their line and column.
        document = parse(sdl, no_location=True, max_tokens=max_tokens)
    except GraphQLSyntaxError as error:
        # graphql-core says so only in its message.
        if max_tokens is not None and error.message.endswith(f"more than {max_tokens} tokens. Parsing aborted."):
            raise SchemaTooLarge(max_tokens) from None
        location = error.locations[0] if error.locations else None
        raise SchemaSyntaxError(
            error.message, location.line if location else None, location.column if location else None
        ) from None
    checks = _interface_checks(document)
    if checks > max_interface_checks:
        raise SchemaTooComplex(checks, max_interface_checks)
    diagnostics = [error.message for error in validate_sdl(document)]
    schema: GraphQLSchema | None = None
    if not diagnostics:
        schema = build_ast_schema(document, assume_valid_sdl=True)
        diagnostics = [error.message for error in validate_schema(schema)]
    lenient = bool(diagnostics)
    if lenient:
        try:
            schema = build_ast_schema(document, assume_valid=True, assume_valid_sdl=True)
        except (TypeError, GraphQLError) as error:
            raise SchemaBuildError(str(error)) from None
    assert schema is not None
    return _bundle(schema, lenient=lenient, diagnostics=_bounded(diagnostics))


def _interface_checks(document: DocumentNode) -> int:
    """How many (type, interface) pairs graphql-core's validation compares, transitive ones included."""
    implements: dict[str, list[str]] = {}
    for definition in document.definitions:
        interfaces = getattr(definition, "interfaces", None)
        name = getattr(definition, "name", None)
        if interfaces and name is not None:
            implements.setdefault(name.value, []).extend(node.name.value for node in interfaces)
    return sum(1 + len(implements.get(interface, ())) for names in implements.values() for interface in names)


def _bounded(diagnostics: list[str]) -> list[str]:
    kept = [
        message if len(message) <= MAX_DIAGNOSTIC_CHARS else message[: MAX_DIAGNOSTIC_CHARS - 1] + "…"
        for message in diagnostics[:MAX_DIAGNOSTICS]
    ]
    if len(diagnostics) > MAX_DIAGNOSTICS:
        kept.append(f"… and {len(diagnostics) - MAX_DIAGNOSTICS:,} more diagnostics.")
    return kept


def bundle_of_schema(schema: GraphQLSchema) -> SchemaBundle:
    """The bundle of a schema built elsewhere and known to be valid (an agent's own schema)."""
    return _bundle(schema, lenient=False, diagnostics=[])


def _bundle(schema: GraphQLSchema, *, lenient: bool, diagnostics: list[str]) -> SchemaBundle:
    type_weights: dict[str, float] = {}
    field_weights: dict[str, float] = {}
    argument_weights: dict[str, float] = {}
    list_sizes: dict[str, ListSize] = {}
    sensitive: set[str] = set()
    coordinates: set[str] = set()
    for type_ in schema.type_map.values():
        if type_.name.startswith("__"):
            continue
        for node in (type_.ast_node, *type_.extension_ast_nodes):
            weight = _cost_weight(node.directives if node else ())
            if weight is not None:
                type_weights[type_.name] = weight
        if isinstance(type_, GraphQLInputObjectType):
            for name, input_field in type_.fields.items():
                coordinate = f"{type_.name}.{name}"
                directives = input_field.ast_node.directives if input_field.ast_node else ()
                _collect_argument_directives(coordinate, directives, argument_weights, sensitive)
        if not isinstance(type_, GraphQLObjectType | GraphQLInterfaceType):
            continue
        for name, definition in type_.fields.items():
            coordinate = f"{type_.name}.{name}"
            coordinates.add(coordinate)
            directives = definition.ast_node.directives if definition.ast_node else ()
            weight = _cost_weight(directives)
            if weight is not None:
                field_weights[coordinate] = weight
            list_size = _list_size(directives)
            if list_size is not None:
                list_sizes[coordinate] = list_size
            for arg_name, arg in definition.args.items():
                arg_directives = arg.ast_node.directives if arg.ast_node else ()
                _collect_argument_directives(
                    f"{coordinate}.{arg_name}", arg_directives, argument_weights, sensitive
                )
    return SchemaBundle(
        schema=schema,
        operations=_operations(schema),
        coordinates=frozenset(coordinates),
        type_weights=type_weights,
        field_weights=field_weights,
        argument_weights=argument_weights,
        list_sizes=list_sizes,
        sensitive_arguments=frozenset(sensitive),
        lenient=lenient,
        diagnostics=diagnostics,
    )


def _operations(schema: GraphQLSchema) -> list[str]:
    roots = (schema.query_type, schema.mutation_type, schema.subscription_type)
    return [
        f"{kind}.{name}"
        for kind, root in zip(ROOT_OPERATION_KINDS, roots, strict=True)
        if root is not None
        for name in root.fields
    ]


def _collect_argument_directives(
    coordinate: str,
    directives: tuple[ConstDirectiveNode, ...] | None,
    weights: dict[str, float],
    sensitive: set[str],
) -> None:
    weight = _cost_weight(directives)
    if weight is not None:
        weights[coordinate] = weight
    if any(directive.name.value == SENSITIVE_DIRECTIVE for directive in directives or ()):
        sensitive.add(coordinate)


def _directive_arguments(
    directives: tuple[ConstDirectiveNode, ...] | None, name: str
) -> dict[str, Any] | None:
    for directive in directives or ():
        if directive.name.value == name:
            return {
                argument.name.value: to_json(argument.value, {}) for argument in directive.arguments or ()
            }
    return None


def _cost_weight(directives: tuple[ConstDirectiveNode, ...] | None) -> float | None:
    arguments = _directive_arguments(directives, COST_DIRECTIVE)
    if arguments is None:
        return None
    # Apollo declares `weight: Int!`, the IBM specification `weight: String!`; accept both.
    try:
        return float(arguments.get("weight"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _list_size(directives: tuple[ConstDirectiveNode, ...] | None) -> ListSize | None:
    arguments = _directive_arguments(directives, LIST_SIZE_DIRECTIVE)
    if arguments is None:
        return None
    assumed = arguments.get("assumedSize")
    slicing = arguments.get("slicingArguments") or []
    sized = arguments.get("sizedFields") or []
    return ListSize(
        assumed_size=assumed if isinstance(assumed, int) and not isinstance(assumed, bool) else None,
        slicing_arguments=tuple(tuple(str(path).split(".")) for path in slicing if path),
        sized_fields=tuple(_selection_path(str(path)) for path in sized if path),
    )


def _selection_path(text: str) -> tuple[str, ...]:
    """'results { page }' -> ('results', 'page'): Apollo's nested sizedFields, one leaf per path."""
    return tuple(text.replace("{", " ").replace("}", " ").split())


def diff_schemas(old: SchemaBundle, new: SchemaBundle) -> SchemaDiff:
    """Operations added and removed, and graphql-core's breaking and dangerous changes."""
    old_operations, new_operations = set(old.operations), set(new.operations)
    return SchemaDiff(
        operations_added=[name for name in new.operations if name not in old_operations],
        operations_removed=[name for name in old.operations if name not in new_operations],
        breaking_changes=[
            {"type": change.type.name, "description": change.description}
            for change in find_breaking_changes(old.schema, new.schema)
        ],
        dangerous_changes=[
            {"type": change.type.name, "description": change.description}
            for change in find_dangerous_changes(old.schema, new.schema)
        ],
    )
