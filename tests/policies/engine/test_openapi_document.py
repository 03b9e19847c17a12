"""Reading an OpenAPI document for the registry (openapi_document.py): JSON or YAML, validated,
bounded, and diffed by routes and parameters. Plain functions, no database."""

from __future__ import annotations

import json
from typing import Any

import pytest

from policies.engine.openapi_document import OpenApiDocumentError, build_rest_api, diff_rest_apis
from policies.engine.rest_routes import RouteMatch


def document(paths: dict[str, Any], version: str = "3.0.3") -> dict[str, Any]:
    return {"openapi": version, "info": {"title": "t", "version": "1"}, "paths": paths}


def ok(*parameters: dict[str, Any]) -> dict[str, Any]:
    return {"parameters": list(parameters), "responses": {"200": {"description": "ok"}}}


LIMIT = {"name": "limit", "in": "query", "schema": {"type": "integer"}}
ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}


def test_yaml_with_unquoted_status_codes_reads_as_openapi() -> None:
    api = build_rest_api("openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get:\n"
                         "      responses:\n        200: {description: ok}\n")
    assert api.operations == ["rest.GET./a"]


def test_a_path_and_its_trailing_slash_twin_are_refused_as_one_route() -> None:
    with pytest.raises(OpenApiDocumentError, match="same requests"):
        build_rest_api(json.dumps(document({"/a": {"get": ok()}, "/a/": {"post": ok()}})))


def test_openapi_3_0_exclusive_bounds_are_read_as_booleans() -> None:
    schema = {"type": "integer", "minimum": 0, "exclusiveMinimum": True}
    api = build_rest_api(json.dumps(document({"/a": {"get": ok({"name": "n", "in": "query", "schema": schema})}})))
    at_zero, at_one = api.routes.match("GET", "/a?n=0"), api.routes.match("GET", "/a?n=1")
    assert isinstance(at_zero, RouteMatch) and isinstance(at_one, RouteMatch)
    assert "greater than 0" in at_zero.problems[0].message
    assert at_one.problems == ()


def test_the_diff_names_routes_and_parameters_added_removed_and_changed() -> None:
    old = build_rest_api(json.dumps(document({"/a": {"get": ok(LIMIT)}, "/b/{id}": {"get": ok(ID)}})))
    narrower = {**LIMIT, "schema": {"type": "integer", "maximum": 5}}
    new = build_rest_api(json.dumps(document({"/a": {"get": ok(narrower, {"name": "q", "in": "query", "schema": {}}),
                                                     "post": ok()}})))
    assert diff_rest_apis(old.routes, new.routes) == {
        "routes_added": ["rest.POST./a"],
        "routes_removed": ["rest.GET./b/{id}"],
        "parameters_changed": [{"operation": "rest.GET./a", "added": ["query.q"], "removed": [],
                                "changed": ["query.limit"]}],
    }


@pytest.mark.parametrize(("text", "code"), [
    ("[1, 2]", "OPENAPI_INVALID"),
    ("true: 1\nopenapi: 3.1.0\n", "OPENAPI_INVALID"),
    (json.dumps(document({"/a": {"get": {"$ref": "file:///etc/passwd"}}})), "OPENAPI_INVALID"),
    ("a: 1\na: 2\n", "OPENAPI_SYNTAX_ERROR"),
    ("{broken", "OPENAPI_SYNTAX_ERROR"),
])
def test_documents_the_registry_cannot_accept_are_refused_with_a_code(text: str, code: str) -> None:
    with pytest.raises(OpenApiDocumentError) as raised:
        build_rest_api(text)
    assert raised.value.code == code
