"""Schema registry: strict and lenient builds, refusing garbage, operations, cost data, diffs."""

from __future__ import annotations

import pytest

from policies.engine import SchemaBuildError, SchemaSyntaxError, build_schema, diff_schemas
from policies.engine.schema import ListSize

from .factories import data_text, shop


def test_a_valid_schema_builds_strictly_with_its_operations() -> None:
    bundle = shop()

    assert not bundle.lenient
    assert bundle.diagnostics == []
    assert bundle.operations[:2] == ["query.order", "query.orders"]
    assert "mutation.updatePayment" in bundle.operations
    assert {"Customer.ssn", "Node.id", "Mutation.refundOrder"} <= bundle.coordinates


def test_cost_list_size_and_sensitive_directives_are_precomputed() -> None:
    bundle = shop()

    assert bundle.type_weights["Report"] == 50
    assert bundle.field_weights["Query.exchangeRate"] == 7
    assert bundle.list_sizes["Query.orders"] == ListSize(None, (("first",),), (("edges",),))
    assert bundle.list_sizes["Order.lines"].assumed_size == 3
    assert bundle.sensitive_arguments == {"CardInput.number", "Mutation.verifyIdentity.ssn"}


def test_a_schema_graphql_core_rejects_registers_leniently_with_diagnostics() -> None:
    bundle = build_schema(data_text("lenient_duplicate_field.graphql"))

    assert bundle.lenient
    assert bundle.diagnostics == ["Field 'User.login' can only be defined once."]
    assert bundle.operations == ["query.viewer"]


def test_a_schema_without_a_query_type_is_lenient() -> None:
    bundle = build_schema("type Thing { id: ID }")

    assert bundle.lenient
    assert bundle.diagnostics == ["Query root type must be provided."]
    assert bundle.operations == []


def test_garbage_is_refused_with_the_parser_message_and_location() -> None:
    with pytest.raises(SchemaSyntaxError) as raised:
        build_schema(data_text("garbage.graphql"))

    assert (raised.value.line, raised.value.column) == (3, 1)
    assert "Expected" in raised.value.message


def test_sdl_describing_no_schema_even_leniently_is_refused() -> None:
    with pytest.raises(SchemaBuildError, match="Phantom"):
        build_schema(data_text("unknown_type.graphql"))


def test_diff_lists_operations_added_and_removed_and_graphql_core_changes() -> None:
    diff = diff_schemas(shop(), build_schema(data_text("shop_v2.graphql")))

    assert diff.operations_added == ["mutation.cancelOrder"]
    assert diff.operations_removed == ["mutation.deleteOrder"]
    assert {
        "type": "FIELD_REMOVED",
        "description": "Field Mutation.deleteOrder was removed.",
    } in diff.breaking_changes
    assert {
        "type": "VALUE_ADDED_TO_ENUM",
        "description": "Enum value OrderStatus.CANCELLED was added.",
    } in diff.dangerous_changes
    assert diff.as_dict()["operations_added"] == ["mutation.cancelOrder"]
