"""Hostile documents every check must answer quickly and without an exception.

Shared by the engine tests and the benchmark (`python manage.py bench`), which times each case.
The queries target the test `shop` schema's field names but stay hostile against any schema.
"""

from __future__ import annotations

from typing import Any

HostileCase = tuple[str, str, dict[str, Any] | None]


def _fragment_bomb(levels: int, width: int) -> str:
    """A few kilobytes whose naive expansion is width**levels selections."""
    fragments = [
        f"fragment F{level} on Customer {{ "
        + " ".join(
            f"a{i}: orders {{ edges {{ node {{ customer {{ ...F{level + 1} }} }} }} }}" for i in range(width)
        )
        + " }"
        for level in range(levels)
    ]
    return (
        "query { customer(id: 1) { ...F0 } } "
        + " ".join(fragments)
        + f" fragment F{levels} on Customer {{ id }}"
    )


def nested_json(levels: int) -> dict[str, Any]:
    """A JSON object nested `levels` levels deep."""
    value: dict[str, Any] = {}
    for _ in range(levels - 1):
        value = {"inner": value}
    return value


def hostile_corpus() -> list[HostileCase]:
    """(name, query, variables) for every class of hostile input the pre-check must survive."""
    merged_bomb = (
        "query { ...B0 } "
        + " ".join(f"fragment B{i} on Query {{ ...B{i + 1} ...B{i + 1} ...B{i + 1} }}" for i in range(30))
        + " fragment B30 on Query { order(id: 1) { id } }"
    )
    return [
        ("one_megabyte_document", "{ order(id: 1) { id } }" + " " * (1 << 20), None),
        ("ten_thousand_deep_nesting", "{ " + "a { " * 10_000 + "}" * 10_000 + " }", None),
        ("ten_thousand_deep_brackets", "{" * 10_000 + "}" * 10_000, None),
        ("ten_thousand_aliases", "{ " + " ".join(f"a{i}: __typename" for i in range(10_000)) + " }", None),
        ("three_thousand_aliases", "{ " + " ".join(f"a{i}: __typename" for i in range(3_000)) + " }", None),
        ("duplicated_fields", "{ order(id: 1) { " + "id " * 9_000 + "} }", None),
        ("duplicated_root_fields", "{ " + "order(id: 1) { id } " * 800 + "}", None),
        ("conflicting_aliases", "{ " + "x: order(id: 1) { id } x: customer(id: 1) { id } " * 400 + "}", None),
        ("directive_flood", "{ order(id: 1) " + "@include(if: true) " * 1_500 + "{ id } }", None),
        # Under the token cap, so only the directive cap or validation can stop them.
        ("directive_flood_under_token_cap", "{ order(id: 1) " + "@include(if: true) " * 1_000 + "{ id } }", None),
        (
            "repeated_fields_under_repeat_bound",
            "{ " + "order(id: 1) { id customer { id } lines { sku } } " * 99 + "}",
            None,
        ),
        ("unknown_directive_flood", "{ order(id: 1) { id " + "@a " * 3_000 + "} }", None),
        ("fragment_cycle", "query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }", None),
        ("fragment_self_cycle", "query { ...A } fragment A on Query { order(id: 1) { id } ...A }", None),
        ("fragment_bomb", _fragment_bomb(levels=12, width=10), None),
        ("merged_fragment_bomb", merged_bomb, None),
        (
            "fragment_chain",
            "query { customer(id: 1) { ...C0 } } "
            + " ".join(f"fragment C{i} on Customer {{ ...C{i + 1} }}" for i in range(1_000))
            + " fragment C1000 on Customer { id }",
            None,
        ),
        (
            "thousands_of_operations",
            " ".join(f"query Q{i} {{ order(id: {i}) {{ id }} }}" for i in range(1_000)),
            None,
        ),
        ("thousands_of_anonymous_operations", "{ __typename } " * 3_000, None),
        (
            "thousands_of_variables",
            "query Q(" + " ".join(f"$v{i}: Int" for i in range(2_400)) + ") { __typename }",
            None,
        ),
        ("comment_flood", "{ __typename }\n" + "#\n" * 30_000, None),
        (
            "deeply_nested_json_variables",
            "query Q($t: String!) { search(text: $t) { __typename } }",
            {"t": nested_json(5_001)},
        ),
        (
            "deeply_nested_list_literal",
            "{ search(text: " + "[" * 5_000 + "]" * 5_000 + ") { __typename } }",
            None,
        ),
        ("huge_integer", "{ orders(first: " + "9" * 5_000 + ") { totalCount } }", None),
        (
            "huge_list_variable",
            "query Q($ids: [ID!]!) { customersByIds(ids: $ids) { id } }",
            {"ids": list(range(100_000))},
        ),
        (
            "nan_slicing_variable",
            "query Q($n: Int) { orders(first: $n) { totalCount } }",
            {"n": float("nan")},
        ),
        (
            "astronomic_slicing_variable",
            "query Q($n: Int) { orders(first: $n) { totalCount } }",
            {"n": 10**400},
        ),
        (
            "wrong_variable_types",
            "query Q($n: Int) { orders(first: $n) { totalCount } }",
            {"n": {"no": ["t", 1]}},
        ),
        ("lone_surrogate", '{ search(text: "\udcff") { __typename } }', None),
        ("control_characters", "{ \x00\x01\x02 }", None),
        ("empty_document", "", None),
        ("only_whitespace", " \n\t ", None),
        (
            "introspection_via_alias_and_fragment",
            "query { ...I } fragment I on Query { s: __schema { types { name } } }",
            None,
        ),
        ("long_unicode_string", '{ search(text: "' + "\u2603" * 20_000 + '") { __typename } }', None),
    ]


# (name, CEL expression, the `context` the agent sends): the costliest expressions the policy
# load limits admit, with inputs at the check-time caps, and the attack that motivated them.
CelCase = tuple[str, str, dict[str, Any]]


def hostile_cel_cases() -> list[CelCase]:
    """Worst cases for a rule condition (`when.expression`) under the bounds of cel_bounds.py."""
    from .cel_bounds import MAX_CEL_CONCATENATIONS, MAX_CEL_INPUT_CHARS, MAX_CEL_INPUT_ITEMS, MAX_CEL_LITERAL_ITEMS

    # `context` itself is a map: its keys count as items and characters too.
    items = MAX_CEL_INPUT_ITEMS
    half = [f"s{i}" for i in range((items - 2) // 2)]
    strings = [""] * (items - 2)
    long_string = "a" * (MAX_CEL_INPUT_CHARS - 2)
    literal = "[" + ", ".join(str(i) for i in range(MAX_CEL_LITERAL_ITEMS)) + "]"
    # The most `+` an expression may hold, over the variable `name`.
    def concatenated(name: str) -> str:
        return " + ".join([name] * (MAX_CEL_CONCATENATIONS + 1))

    return [
        ("cel_four_maps_at_the_item_cap",
         " && ".join(["context.l.map(x, x).size() > 0"] * 4),
         {"l": [f"s{i}" for i in range(items - 1)]}),
        ("cel_chained_maps_at_the_item_cap",
         "context.l.map(x, x).filter(x, true).map(x, x).filter(x, true).size() > 0",
         {"l": [f"s{i}" for i in range(items - 1)]}),
        ("cel_concatenating_maps_over_nested_lists",
         f"context.l.map(x, {concatenated('x')}).size() > 0",
         {"l": [[f"s{j}" for j in range(8)] for _ in range((items - 2) // 9)]}),
        ("cel_concatenating_maps_over_long_strings",
         f"context.l.map(x, {concatenated('x')}).size() > 0",
         {"l": ["a" * ((MAX_CEL_INPUT_CHARS - 2) // (items - 2))] * (items - 2)}),
        ("cel_concatenation_in_a_predicate",
         f"context.a.exists(x, ({concatenated('context.b')}).size() < 0)",
         {"a": half, "b": half}),
        ("cel_string_concatenation_in_a_predicate",
         f"context.l.exists(x, size({concatenated('context.s')}) < 0)",
         {"l": strings, "s": long_string[: MAX_CEL_INPUT_CHARS - 200]}),
        ("cel_exists_over_the_largest_literal",
         f"{literal}.exists(x, size({concatenated('context.s')}) < 0)",
         {"s": long_string}),
        ("cel_membership_chain",
         " || ".join(["'q' in context.l"] * 60),
         {"l": [f"s{i}" for i in range(items - 1)]}),
        ("cel_regular_expressions_on_the_longest_string",
         " || ".join(["context.s.matches('(a|aa)*b')"] * 30),
         {"s": long_string}),
        # The review's attack: 20,000 strings through map() took 22 s; over the caps, it is not run.
        ("cel_map_over_twenty_thousand_strings",
         "context.l.map(x, x + 'a').size() > 0",
         {"l": [f"s{i}" for i in range(20_000)]}),
    ]
