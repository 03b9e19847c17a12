"""The shape cache: a document that differs from one analysed before only in its literals is served
from that document's shape, and everything a check derives from it (decision, reasons, metrics,
redaction) is what a full analysis of it gives."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from policies.engine import DEFAULT_CAPS, Analysis, AnalysisLimits, analyze, decide, redact
from policies.engine.shapes import COLD, HIT, MISS, Shape, Unshapeable, analyze_shaped, build_shape, lift

from .factories import example_policy, office_request, shop, support_bot
from .test_hostile import documents as hostile_documents
from .test_hostile import root_fields


class Store(dict[Any, Any]):
    def put(self, key: Any, value: Any) -> None:
        self[key] = value


def everything_derived(analysis: Analysis, variables: dict[str, Any] | None) -> dict[str, Any]:
    """What a check takes from an analysis: the decision (reasons, metrics, hints), the analysis's
    own fields, and the redacted document and variables a record keeps."""
    policy = example_policy()
    decision = decide(policy, analysis, subject=support_bot(), request=office_request(), caps=DEFAULT_CAPS)
    redacted_variables, redacted_query = redact(shop(), analysis, variables, policy.sensitive_globs)
    return {
        "decision": decision.as_dict(),
        "failure": analysis.failure,
        "metrics": analysis.metrics,
        "operation": (analysis.operation_name, analysis.operation_type),
        "root_fields": analysis.root_fields,
        "introspection": analysis.introspection_paths,
        "declared": analysis.declared_variables,
        "size": analysis.approx_size_bytes,
        "redacted": (redacted_variables, redacted_query),
    }


def shaped(store: Store, query: str, variables: dict[str, Any] | None = None, **options: Any) -> tuple[Analysis, str]:
    return analyze_shaped(store, "shop", shop(), query, variables=variables, **options)


def assert_served_like_a_full_analysis(first: str, second: str, variables: dict[str, Any] | None = None,
                                       **options: Any) -> str:
    """Analyses `first` (its shape kept), then `second` through the shape cache; returns how
    `second` was served after asserting it derives what a full analysis of it derives."""
    store = Store()
    shaped(store, first, variables, **options)
    served, how = shaped(store, second, variables, **options)
    cold = analyze(shop(), second, variables=variables, **options)
    assert everything_derived(served, variables) == everything_derived(cold, variables)
    return how


def relit(query: str, literal: Any) -> str:
    """`query` with each literal replaced by `literal(kind, text)`."""
    lifted = lift(query)
    if lifted is None:
        return query
    parts, position = [], 0
    for (start, end), kind in zip(lifted.spans, lifted.kinds, strict=True):
        parts.append(query[position:start])
        parts.append(literal(kind, query[start:end]))
        position = end
    parts.append(query[position:])
    return "".join(parts)


# Another literal of the same kind mostly (what agents send), sometimes one of another kind or none at all.
wild_literals = st.sampled_from(['"\\u00e9"', '"\\q"', '"""block\n  text"""', "01", "1.", "-0", "1e400", '"a',
                                 "true", "null", "$v", "OPEN", '"OPEN"', "[1, 2]", '{number: "4"}', '"\\ud800"'])
literals_of_kind = {
    "I": st.one_of(st.integers(0, 120), st.integers(0, 120), st.integers(-(2**31), 2**31), st.integers()).map(str),
    "F": st.floats(allow_nan=False, allow_infinity=False).map(repr),
    "S": st.text(max_size=12).map(json.dumps) | st.text(max_size=12).map(lambda t: json.dumps(t, ensure_ascii=False)),
    "B": st.text(max_size=12).map(lambda text: '"""' + text.replace('"', "") + '"""'),
}


def drawn_literal(data: st.DataObject, kind: str, text: str) -> str:
    choice = data.draw(st.sampled_from(["same", *["other"] * 10, "wild"]))
    if choice == "same":
        return text
    return data.draw(wild_literals if choice == "wild" else literals_of_kind[kind])


extra_documents = st.sampled_from([
    'mutation { verifyIdentity(customerId: "c1", ssn: "123-45") login(input: {email: "a@b", password: "pw"}) '
    "{ token } }",
    'mutation { updatePayment(customerId: "c1", card: {number: "4111", expiry: "12/29"}) { id } }',
    '{ a: order(id: 1) { id } a: order(id: 1) { total } }',
    '{ customer(id: "c") { orders(first: 5) { totalCount } } o: orders(first: 60, after: "x") { totalCount } }',
    '{ customersByIds(ids: ["a", "b", "c"]) { id } exchangeRate(currency: "EUR") salesReport(year: 2024) '
    "{ title } }",
    'query Q($n: Int = 3) { orders(first: $n) { edges { node { id @skip(if: false) } } } }',
    'query Q($id: ID!) { order(id: $id) { id } customer(id: "c1") { name @include(if: true) } }',
    '{ search(text: "lamp") { ... on Order { id } ... on Customer { ssn } } }',
    '# a "comment" with 42\n{ order(id: "o-1") { id lines { sku } } }',
    '{ orders(first: 3) { edges { node { ...F } } } } fragment F on Order { customer { orders(first: 2) '
    "{ totalCount } } }",
])
valid_documents = st.lists(root_fields, min_size=1, max_size=3).map(
    lambda roots: "{ " + " ".join(f"r{i}: {root}" for i, root in enumerate(roots)) + " }")
documents = st.one_of(extra_documents, valid_documents, extra_documents, valid_documents, hostile_documents)
variable_values = st.none() | st.fixed_dictionaries({}, optional={"n": st.integers(-5, 10**12) | st.none(),
                                                                    "id": st.text(max_size=5) | st.integers()})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(query=documents, variables=variable_values, data=st.data())
def test_a_document_served_from_a_shape_derives_what_its_full_analysis_derives(
    query: str, variables: dict[str, Any] | None, data: st.DataObject
) -> None:
    # The first document seeds the cache (when it is valid); the second has other literal values.
    seed = query if data.draw(st.integers(0, 2)) else relit(query, lambda kind, text: drawn_literal(data, kind, text))
    store = Store()
    shaped(store, seed, data.draw(variable_values))
    document = relit(query, lambda kind, text: drawn_literal(data, kind, text))
    served, how = shaped(store, document, variables)
    event(how)

    cold = analyze(shop(), document, variables=variables)
    assert everything_derived(served, variables) == everything_derived(cold, variables)


def test_a_document_with_other_ids_and_page_sizes_is_served_from_its_shape() -> None:
    how = assert_served_like_a_full_analysis(
        '{ customer(id: "c1") { name orders(first: 5) { edges { node { id total } } } } }',
        '{ customer(id: "c-2049") { name orders(first: 50) { edges { node { id total } } } } }',
    )

    assert how == HIT


def test_items_of_a_list_literal_are_literals_like_any_other() -> None:
    how = assert_served_like_a_full_analysis('{ customersByIds(ids: ["a", "b"]) { id } }',
                                             '{ customersByIds(ids: ["c-1", "d-22"]) { id } }')

    assert how == HIT


def test_a_changed_page_size_is_charged_its_own_cost_and_read_by_rule_conditions() -> None:
    store = Store()
    shaped(store, "{ orders(first: 5) { edges { node { id } } } }")

    served, how = shaped(store, "{ orders(first: 500) { edges { node { id } } } }")

    assert how == HIT
    assert served.metrics is not None and served.metrics.cost == 1 + 500 * 2
    assert served.root_fields[0].arguments["first"] == 500
    assert everything_derived(served, None) == everything_derived(
        analyze(shop(), "{ orders(first: 500) { edges { node { id } } } }"), None)


def test_a_literal_its_argument_type_refuses_falls_back_to_the_full_analysis() -> None:
    store = Store()
    shaped(store, "{ salesReport(year: 2024) { title } }")

    served, how = shaped(store, "{ salesReport(year: 99999999999) { title } }")

    assert how == MISS
    assert [reason.code for reason in served.failure] == ["GRAPHQL_VALIDATION_FAILED"]
    assert "32-bit" in served.failure[0].message


def test_a_string_where_an_id_was_a_number_is_a_literal_of_its_own_shape() -> None:
    store = Store()
    shaped(store, "{ order(id: 1) { id } }")

    _served, how = shaped(store, '{ order(id: "1") { id } }')

    assert how == MISS


def test_fields_sharing_a_response_key_keep_their_arguments_equal_or_are_analysed_in_full() -> None:
    template = "{ a: order(id: 1) { id } a: order(id: 1) { total } }"

    assert assert_served_like_a_full_analysis(template, "{ a: order(id: 7) { id } a: order(id: 7) { total } }") == HIT
    assert assert_served_like_a_full_analysis(template, "{ a: order(id: 7) { id } a: order(id: 8) { total } }") == MISS


def test_directive_arguments_and_variable_defaults_must_be_the_literals_seen() -> None:
    template = 'query Q($n: Int = 3) { orders(first: $n) { edges { node { id } } } }'

    assert assert_served_like_a_full_analysis(template, template.replace("= 3", "= 4")) == MISS


def test_redaction_of_a_served_document_moves_with_its_literals() -> None:
    store = Store()
    shaped(store, 'mutation { verifyIdentity(customerId: "c1", ssn: "1") }')
    document = 'mutation { verifyIdentity(customerId: "a-much-longer-id", ssn: "123-45-6789") }'

    served, how = shaped(store, document)

    assert how == HIT
    _variables, query = redact(shop(), served, None, example_policy().sensitive_globs)
    assert query == 'mutation { verifyIdentity(customerId: "a-much-longer-id", ssn: "[REDACTED]") }'


def test_the_same_document_with_other_variables_is_served_from_its_shape() -> None:
    template = "query Q($id: ID!) { order(id: $id) { id } }"

    assert assert_served_like_a_full_analysis(template, template, {"id": "o-2"}) == HIT


def test_literals_the_normaliser_saw_otherwise_than_the_parser_make_no_shape() -> None:
    # The shape's literals must be the tree's, one to one (here the spans differ: `12` against `1`).
    analysis = analyze(shop(), "{ order(id: 1) { id } }")
    lifted = lift("{ order(id: 12) { id } }")

    assert lifted is not None
    assert isinstance(build_shape(analysis, lifted), Unshapeable)


def test_the_normaliser_stops_at_the_token_cap_and_documents_holding_its_mark() -> None:
    many = "{ customersByIds(ids: [" + ", ".join(["1"] * 50) + "]) { id } }"

    assert lift(many, max_literals=10) is None
    assert lift("{ order(id: \"\x00I\") { id } }") is None
    _analysis, how = shaped(Store(), many, limits=AnalysisLimits(caps=DEFAULT_CAPS.__class__(max_tokens=20)))
    assert how == COLD


def test_a_shape_is_kept_only_for_a_document_that_passed() -> None:
    store = Store()
    shaped(store, "{ salesReport(year: 99999999999) { title } }")
    assert store == {}
    shaped(store, "{ salesReport(year: 2024) { title } }")
    assert [type(value) for value in store.values()] == [Shape]
