"""Benchmark inputs: a generated schema of any size, and valid documents of three sizes for any schema.

Everything is deterministic (seeded), so two runs of the benchmark measure the same inputs.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
    get_named_type,
    is_list_type,
    is_non_null_type,
)

# Per size: (selected fields budget, most root fields).
DOCUMENT_SIZES = {"small": (6, 1), "medium": (150, 6), "large": (1500, 60)}


def generated_sdl(types: int = 1500, seed: int = 7) -> str:
    """SDL shaped like a large public API: `types` object types, connections with @listSize, enums, inputs."""
    rng = random.Random(seed)
    parts = [
        "directive @cost(weight: Int!) on ARGUMENT_DEFINITION | ENUM | FIELD_DEFINITION | INPUT_FIELD_DEFINITION"
        " | OBJECT | SCALAR",
        "directive @listSize(assumedSize: Int, slicingArguments: [String!], sizedFields: [String!],"
        " requireOneSlicingArgument: Boolean = true) on FIELD_DEFINITION",
        "scalar DateTime",
        "enum Order { ASC DESC }",
        "interface Node { id: ID! }",
        "type PageInfo { hasNextPage: Boolean! endCursor: String }",
        "input Filter { text: String, since: DateTime, limit: Int = 10 }",
    ]
    for index in range(types):
        name = f"T{index}"
        fields = ["id: ID!", "name: String", "createdAt: DateTime", "score: Float", "active: Boolean!"]
        for offset in range(1, 4):
            other = f"T{(index * 7 + offset * 13 + rng.randrange(types)) % types}"
            fields.append(f"rel{offset}: {other}")
        other = f"T{(index + 1 + rng.randrange(types)) % types}"
        fields.append(
            f"items(first: Int = 10, after: String, order: Order = ASC, filter: Filter): {other}Connection! "
            f'@listSize(slicingArguments: ["first"], sizedFields: ["edges", "nodes"])'
        )
        parts.append(f"type {name} implements Node {{ {' '.join(fields)} }}")
        parts.append(
            f"type {name}Connection {{ totalCount: Int! pageInfo: PageInfo! edges: [{name}Edge!]! nodes: [{name}!]! }}"
        )
        parts.append(f"type {name}Edge {{ cursor: String! node: {name}! }}")
    roots = [f"t{index}(id: ID!): T{index}" for index in range(types)]
    roots += [
        f't{index}s(first: Int = 10, after: String): T{index}Connection! @listSize(slicingArguments: ["first"],'
        f' sizedFields: ["edges", "nodes"])'
        for index in range(0, types, 3)
    ]
    roots.append("node(id: ID!): Node")
    parts.append("type Query { " + " ".join(roots) + " }")
    parts.append(
        "type Mutation { "
        + " ".join(f"updateT{index}(id: ID!, name: String): T{index}" for index in range(0, types, 5))
        + " }"
    )
    return "\n".join(parts) + "\n"


@dataclass(frozen=True)
class BenchDocument:
    size: str
    query: str
    root_fields: tuple[str, ...]


def documents_for(schema: GraphQLSchema, seed: int = 11) -> dict[str, BenchDocument]:
    """One valid query document per size (small, medium, large) for `schema`."""
    return {size: _Generator(schema, random.Random(seed)).document(size, budget, roots)
            for size, (budget, roots) in DOCUMENT_SIZES.items()}


class _Generator:
    def __init__(self, schema: GraphQLSchema, rng: random.Random) -> None:
        self.schema = schema
        self.rng = rng
        self.budget = 0
        self.fragments: dict[str, str] = {}

    def document(self, size: str, budget: int, max_roots: int) -> BenchDocument:
        query_type = self.schema.query_type
        assert query_type is not None, "the schema has no query type"
        self.budget = budget
        self.fragments = {}
        candidates = [
            (name, field) for name, field in sorted(query_type.fields.items())
            if not name.startswith("__") and self._arguments(field) is not None
        ]
        self.rng.shuffle(candidates)
        # Composite roots first: they carry the selections.
        candidates.sort(key=lambda item: not isinstance(get_named_type(item[1].type), _COMPOSITE))
        selections: list[str] = []
        roots: list[str] = []
        for name, field in candidates:
            if self.budget <= 0 or len(roots) >= max_roots:
                break
            text = self._field(name, field, depth=1, lists=0, max_depth=5 if size != "small" else 3)
            if text:
                selections.append(text)
                roots.append(name)
        query = f"query Bench{size.title()} {{ {' '.join(selections)} }}"
        if self.fragments:
            query += " " + " ".join(self.fragments.values())
        return BenchDocument(size, query, tuple(roots))

    def _field(self, name: str, field: GraphQLField, *, depth: int, lists: int, max_depth: int) -> str | None:
        arguments = self._arguments(field)
        if arguments is None:
            return None
        named = get_named_type(field.type)
        is_list = _has_list(field.type)
        self.budget -= 1
        if not isinstance(named, _COMPOSITE):
            return name + arguments
        if depth >= max_depth or (is_list and lists >= 2):
            self.budget += 1
            return None
        selection = self._selection(named, depth=depth + 1, lists=lists + int(is_list), max_depth=max_depth)
        if selection is None:
            self.budget += 1
            return None
        return f"{name}{arguments} {selection}"

    def _selection(self, type_, *, depth: int, lists: int, max_depth: int) -> str | None:
        if isinstance(type_, GraphQLUnionType):
            return "{ __typename }"
        fragment = f"F{type_.name}"
        reusable = isinstance(type_, GraphQLObjectType) and depth >= 3
        if reusable and fragment in self.fragments:
            self.budget -= 1
            return f"{{ ...{fragment} }}"
        fields = sorted(type_.fields.items())
        scalars = [(n, f) for n, f in fields if not isinstance(get_named_type(f.type), _COMPOSITE)]
        composites = [(n, f) for n, f in fields if isinstance(get_named_type(f.type), _COMPOSITE)]
        self.rng.shuffle(scalars)
        self.rng.shuffle(composites)
        parts = ["__typename"] if not scalars else []
        for name, field in scalars[:3]:
            text = self._field(name, field, depth=depth, lists=lists, max_depth=max_depth)
            if text:
                parts.append(text)
        nested = [] if self.budget <= 0 else composites[: 2 if depth < 3 else 1]
        for name, field in nested:
            text = self._field(name, field, depth=depth, lists=lists, max_depth=max_depth)
            if text:
                parts.append(text)
        if not parts:
            return None
        body = "{ " + " ".join(parts) + " }"
        # Reuse selections on object types through named fragments, the way real clients do.
        if reusable and len(parts) > 1:
            self.fragments[fragment] = f"fragment {fragment} on {type_.name} {body}"
            return f"{{ ...{fragment} }}"
        return body

    def _arguments(self, field: GraphQLField) -> str | None:
        """Literal values for the required arguments (and `first` when present), or None if impossible."""
        values = []
        for name, argument in sorted(field.args.items()):
            if name == "first" and not is_non_null_type(argument.type):
                values.append(f"{name}: 5")
            elif is_non_null_type(argument.type) and argument.default_value is _UNDEFINED_DEFAULT:
                literal = _literal(argument.type, depth=0)
                if literal is None:
                    return None
                values.append(f"{name}: {literal}")
        return f"({', '.join(values)})" if values else ""


_COMPOSITE = (GraphQLObjectType, GraphQLInterfaceType, GraphQLUnionType)


def _undefined_default():
    from graphql.pyutils import Undefined

    return Undefined


_UNDEFINED_DEFAULT = _undefined_default()


def _has_list(type_) -> bool:
    while True:
        if is_list_type(type_):
            return True
        if not is_non_null_type(type_):
            return False
        type_ = type_.of_type


def _literal(type_: GraphQLInputType, depth: int) -> str | None:
    if depth > 4:
        return None
    if isinstance(type_, GraphQLNonNull):
        return _literal(type_.of_type, depth)
    if isinstance(type_, GraphQLList):
        inner = _literal(type_.of_type, depth + 1)
        return None if inner is None else f"[{inner}]"
    if isinstance(type_, GraphQLEnumType):
        return next(iter(type_.values), None)
    if isinstance(type_, GraphQLInputObjectType):
        parts = []
        for name, field in sorted(type_.fields.items()):
            if is_non_null_type(field.type) and field.default_value is _UNDEFINED_DEFAULT:
                literal = _literal(field.type, depth + 1)
                if literal is None:
                    return None
                parts.append(f"{name}: {literal}")
        return "{" + ", ".join(parts) + "}"
    if isinstance(type_, GraphQLScalarType):
        return {"Int": "1", "Float": "1.5", "Boolean": "true"}.get(type_.name, '"bench"')
    return None
