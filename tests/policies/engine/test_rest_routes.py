"""REST route matching (rest_routes.py): templates, precedence, encodings, trailing slashes, method
mismatch, path traversal attempts, and path/query parameters checked against their schemas."""

from __future__ import annotations

from typing import Any

import pytest

from policies.engine import covers_operation
from policies.engine.reasons import METHOD_NOT_ALLOWED_BY_API, REQUEST_INVALID, UNKNOWN_ROUTE
from policies.engine.rest_routes import OpenApiRoutesError, RouteMatch, RouteMiss, routes_from_openapi

ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
SHOP: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "shop", "version": "1"},
    "components": {"parameters": {"Id": ID}, "schemas": {"Expand": {"type": "string", "enum": ["items", "customer"]}}},
    "paths": {
        "/orders": {
            "get": {"parameters": [
                {"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": 100}},
                {"name": "paid", "in": "query", "schema": {"type": "boolean"}},
                {"name": "status", "in": "query", "schema": {"type": "array", "items": {"type": "string"},
                                                              "maxItems": 3}},
            ]},
            "post": {},
        },
        "/orders/{id}": {
            "parameters": [{"$ref": "#/components/parameters/Id"}],
            "get": {"parameters": [{"name": "expand", "in": "query", "schema": {"$ref": "#/components/schemas/Expand"}}]},
            "delete": {},
        },
        "/orders/mine": {"get": {}},
        "/admin": {"get": {}},
        "/refunds": {"post": {"parameters": [
            {"name": "reason", "in": "query", "required": True,
             "schema": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 10}},
            {"name": "amount", "in": "query", "schema": {"type": "number", "exclusiveMinimum": 0}},
        ]}},
        "/files/{name}.{ext}": {"get": {}},
        "/": {"get": {}},
    },
}
ROUTES = routes_from_openapi(SHOP)


def matched(method: str, path: str) -> RouteMatch:
    result = ROUTES.match(method, path)
    assert isinstance(result, RouteMatch), result
    return result


def missed(method: str, path: str) -> RouteMiss:
    result = ROUTES.match(method, path)
    assert isinstance(result, RouteMiss), result
    return result


def test_operations_are_named_rest_method_template() -> None:
    assert "rest.GET./orders/{id}" in ROUTES.operations
    assert "rest.POST./refunds" in ROUTES.operations
    assert "rest.DELETE./orders/{id}" in ROUTES.operations


def test_a_path_matches_its_template_with_typed_path_parameters_and_the_query_apart() -> None:
    result = matched("GET", "/orders/42?expand=items")
    assert result.operation == "rest.GET./orders/{id}"
    assert result.path_params == {"id": 42}
    assert result.query == {"expand": "items"}
    assert result.problems == ()


def test_the_method_is_read_case_insensitively() -> None:
    assert matched("get", "/orders/42").operation == "rest.GET./orders/{id}"


@pytest.mark.parametrize("path", ["/orders/", "/orders", "/orders/?limit=5"])
def test_a_trailing_slash_names_the_same_route(path: str) -> None:
    assert matched("GET", path).operation == "rest.GET./orders"


def test_a_literal_segment_wins_over_a_parameter_segment() -> None:
    assert matched("GET", "/orders/mine").operation == "rest.GET./orders/mine"


def test_the_best_template_decides_and_a_missing_method_does_not_fall_back_to_a_parameter_template() -> None:
    miss = missed("DELETE", "/orders/mine")
    assert miss.reason.code == METHOD_NOT_ALLOWED_BY_API
    assert miss.allowed == ("GET",)


def test_a_method_the_route_lacks_is_method_not_allowed_with_the_allowed_methods() -> None:
    miss = missed("PATCH", "/orders/42")
    assert miss.reason.code == METHOD_NOT_ALLOWED_BY_API
    assert miss.allowed == ("DELETE", "GET")
    assert "DELETE, GET" in miss.reason.message and miss.reason.hint


@pytest.mark.parametrize("path", ["/customers", "/orders/42/items", "/admin/x"])
def test_a_path_no_template_matches_is_an_unknown_route(path: str) -> None:
    assert missed("GET", path).reason.code == UNKNOWN_ROUTE


def test_the_root_path_and_partly_templated_segments_match() -> None:
    assert matched("GET", "/").operation == "rest.GET./"
    assert matched("GET", "/files/report.tar.gz").path_params == {"name": "report", "ext": "tar.gz"}


def test_percent_encoded_segments_are_decoded_once() -> None:
    assert matched("GET", "/files/caf%C3%A9.txt").path_params == {"name": "café", "ext": "txt"}
    assert matched("GET", "/files/a%20b.txt").path_params["name"] == "a b"


# Each would reach another route (or another file) on a backend that decodes or normalises the path.
TRAVERSALS = [
    "/orders/..%2Fadmin",
    "/orders/..%2fadmin",
    "/orders/%2e%2e/admin",
    "/orders/%2E%2E%2Fadmin",
    "/orders/../admin",
    "/orders/./42",
    "/orders/%2e/42",
    "/orders/42%2F..%2F..%2Fadmin",
    "/orders/..%5Cadmin",
    "/orders/%252e%252e%252fadmin",
    "/orders/4%002",
    "/orders/42%0A",
    "/orders/%C0%AE%C0%AE%C0%AFadmin",
    "/orders/%E0%80%AE",
    "/orders/%ED%A0%80",
    "/orders/%FF",
    "/orders/%4",
    "/orders/%zz",
    "/orders//42",
    "//admin",
    "orders/42",
    "/orders/42#frag",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_an_ambiguous_or_traversing_path_is_refused_not_matched(path: str) -> None:
    for method in ("GET", "DELETE"):
        miss = missed(method, path)
        assert miss.reason.code == REQUEST_INVALID
        assert miss.reason.path == ("path",)


def test_an_invalid_path_parameter_is_request_invalid_naming_it() -> None:
    result = matched("GET", "/orders/abc")
    assert [problem.code for problem in result.problems] == [REQUEST_INVALID]
    assert result.problems[0].path == ("path", "id")
    assert "'id'" in result.problems[0].message
    assert "at least 1" in matched("GET", "/orders/0").problems[0].message


@pytest.mark.parametrize(("query", "parameter", "words"), [
    ("limit=abc", "limit", "integer"),
    ("limit=101", "limit", "at most 100"),
    ("paid=yes", "paid", "true or false"),
    ("limit=1&limit=2", "limit", "more than once"),
    ("status=a&status=b&status=c&status=d", "status", "at most 3"),
])
def test_an_invalid_query_parameter_is_request_invalid_naming_it(query: str, parameter: str, words: str) -> None:
    problems = matched("GET", f"/orders?{query}").problems
    assert len(problems) == 1 and problems[0].path == ("query", parameter)
    assert words in problems[0].message


def test_query_values_are_typed_and_undeclared_ones_kept() -> None:
    result = matched("GET", "/orders?limit=10&paid=true&status=open&status=late&utm=x%20y")
    assert result.problems == ()
    assert result.query == {"limit": 10, "paid": True, "status": ["open", "late"], "utm": "x y"}


@pytest.mark.parametrize(("query", "words"), [
    ("", "required"),
    ("reason=Bad", "pattern"),
    ("reason=abcdefghijkl", "at most 10"),
    ("reason=late&amount=0", "greater than 0"),
    ("reason=late&amount=nan", "number"),
])
def test_required_pattern_length_and_exclusive_bounds_are_checked(query: str, words: str) -> None:
    problems = matched("POST", f"/refunds?{query}").problems
    assert len(problems) == 1 and words in problems[0].message


def test_an_enum_from_a_referenced_schema_is_checked() -> None:
    assert "one of items, customer" in matched("GET", "/orders/1?expand=all").problems[0].message


def test_a_query_string_with_a_nul_or_bad_escape_is_request_invalid() -> None:
    for query in ("expand=%00", "expand=%zz", "expand=%C0%AE"):
        problems = matched("GET", f"/orders/1?{query}").problems
        assert problems[0].code == REQUEST_INVALID and problems[0].path == ("query",)


def test_templates_matching_the_same_requests_are_refused() -> None:
    with pytest.raises(OpenApiRoutesError, match="same requests"):
        routes_from_openapi({"paths": {"/a/{x}": {"get": {}}, "/a/{y}": {"get": {}}}})


def test_a_remote_reference_is_refused() -> None:
    with pytest.raises(OpenApiRoutesError, match="only local references"):
        routes_from_openapi({"paths": {"/a": {"$ref": "https://example.com/a.yaml"}}})


@pytest.mark.parametrize(("globs", "operation", "expected"), [
    (["rest.GET.*"], "rest.GET./orders/{id}", True),
    (["rest.GET.*"], "rest.POST./refunds", False),
    (["rest.*./orders*"], "rest.DELETE./orders/{id}", True),
    (["rest.*./orders*"], "rest.GET./refunds", False),
    (["rest.POST./refunds"], "rest.POST./refunds", True),
    (["rest.GET./orders/{id}"], "rest.GET./orders/{id}", True),
    (["rest.GET./orders/{id}"], "rest.GET./orders/mine", False),
    (["query.*"], "rest.GET./orders", False),
    (["*"], "rest.GET./orders", True),
])
def test_operation_globs_match_rest_operation_names(globs: list[str], operation: str, expected: bool) -> None:
    assert covers_operation(globs, operation) is expected


def test_precedence_is_decided_segment_by_segment_from_the_left() -> None:
    routes = routes_from_openapi({"paths": {"/{tenant}/orders": {"get": {}}, "/acme/{x}": {"get": {}},
                                            "/{a}/{b}": {"get": {}}}})
    found = [routes.match("GET", path) for path in ("/acme/orders", "/other/orders", "/other/x")]
    assert [getattr(result, "operation", None) for result in found] == [
        "rest.GET./acme/{x}", "rest.GET./{tenant}/orders", "rest.GET./{a}/{b}"]
