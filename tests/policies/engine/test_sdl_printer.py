"""The own schema's SDL printer prints what graphql-core's `print_ast` prints, faster."""

import graphql
import pytest

from policies.engine.sdl_printer import print_definition

from .factories import data_text

DESCRIBED = '''
"""A scalar."""
scalar Date @specifiedBy(url: "https://example.com/date")

directive @tag(names: [String!] = ["a", "b"]) repeatable on FIELD_DEFINITION | OBJECT | ENUM_VALUE | UNION

"""
An interface
over two lines.
"""
interface Node { id: ID! }
interface Named implements Node { id: ID! name: String }

type Thing implements Named & Node @tag(names: ["x"]) @tag {
  id: ID!
  "The name."
  name: String
  """
  Things nearby,
    indented.
  """
  near(
    "How many."
    first: Int = 10 @deprecated(reason: "use last")
    filter: Filter = {kind: BIG, tags: ["t"]}
  ): [Thing!]! @tag(names: [])
  old: String @deprecated
}

enum Kind { "Big ones." BIG @tag SMALL @deprecated(reason: "gone") }
input Filter { kind: Kind = SMALL, tags: [String!], "Nested." inner: Filter }
union Result @tag = Thing
type Query { thing(id: ID!, at: Date): Thing, results: [Result] }
'''


@pytest.mark.parametrize("sdl", [DESCRIBED, data_text("shop.graphql")], ids=["described", "shop"])
def test_printed_definitions_build_the_schema_print_ast_builds(sdl: str) -> None:
    definitions = graphql.parse(sdl).definitions

    ours = "\n\n".join(print_definition(definition) for definition in definitions)
    theirs = "\n\n".join(graphql.print_ast(definition) for definition in definitions)

    assert graphql.print_schema(graphql.build_schema(ours)) == graphql.print_schema(graphql.build_schema(theirs))
    assert graphql.print_ast(graphql.parse(ours)) == graphql.print_ast(graphql.parse(theirs))
