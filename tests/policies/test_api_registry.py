"""The REST side of the registry: OpenAPI documents registered as versioned APIs (service,
`manage.py register_openapi`, POST /api/v1/apis/{name}/versions), diffed, audited, and refused
with the one error shape when they are not JSON/YAML, not OpenAPI 3.0/3.1, too large or too deep."""

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from agents.models import AuditEvent
from gqlgov.errors import ApiError
from policies.models import Schema, SchemaVersion
from policies.services import api_register, schema_register
from tests.conftest import bearer, issue_token_for, make_principal
from tests.policies.conftest import SHOP_SDL

pytestmark = pytest.mark.django_db

SHOP_REST_YAML = """\
openapi: 3.1.0
info: {title: shop-rest, version: "1"}
paths:
  /orders:
    get:
      parameters:
        - {name: limit, in: query, schema: {type: integer, maximum: 100}}
      responses:
        200: {description: the orders}
  /orders/{id}:
    parameters:
      - {name: id, in: path, required: true, schema: {type: integer}}
    get:
      responses:
        200: {description: one order}
"""
V2_YAML = SHOP_REST_YAML.replace("maximum: 100", "maximum: 50") + """\
  /refunds:
    post:
      responses:
        201: {description: refunded}
"""
V2_YAML = V2_YAML.replace("""    get:
      responses:
        200: {description: one order}
""", """    delete:
      responses:
        204: {description: deleted}
""")


def register(text: str, name: str = "shop-rest"):
    return api_register(actor="tester", name=name, text=text)


def refusal(text: str) -> ApiError:
    with pytest.raises(ApiError) as raised:
        register(text)
    assert not Schema.registry.exists() and not SchemaVersion.objects.exists()
    return raised.value


def test_registering_an_openapi_document_stores_a_version_with_its_routes_and_audits_it():
    version, created = register(SHOP_REST_YAML)
    assert created and version.number == 1
    assert version.schema.kind == Schema.Kind.OPENAPI
    assert version.operations == ["rest.GET./orders", "rest.GET./orders/{id}"]
    event = AuditEvent.objects.get(action="api.registered")
    assert event.details["api"] == "shop-rest" and event.details["routes"] == 2


def test_an_identical_document_is_the_same_version():
    first, _ = register(SHOP_REST_YAML)
    again, created = register(SHOP_REST_YAML)
    assert (again.pk, created) == (first.pk, False)
    assert AuditEvent.objects.filter(action="api.registered").count() == 1


def test_a_new_version_is_diffed_by_routes_and_parameters():
    register(SHOP_REST_YAML)
    version, _ = register(V2_YAML)
    assert version.number == 2
    assert version.diff == {
        "routes_added": ["rest.DELETE./orders/{id}", "rest.POST./refunds"],
        "routes_removed": ["rest.GET./orders/{id}"],
        "parameters_changed": [{"operation": "rest.GET./orders", "added": [], "removed": [],
                                "changed": ["query.limit"]}],
    }


def test_a_json_document_is_accepted():
    document = {"openapi": "3.0.3", "info": {"title": "t", "version": "1"},
                "paths": {"/ping": {"get": {"responses": {"200": {"description": "pong"}}}}}}
    version, _ = register(json.dumps(document))
    assert version.operations == ["rest.GET./ping"]


def test_rest_apis_stay_out_of_the_graphql_schemas():
    register(SHOP_REST_YAML)
    assert not Schema.objects.exists()
    assert Schema.registry.count() == 1


@pytest.mark.parametrize(("text", "code"), [
    ("openapi: [unclosed", "OPENAPI_SYNTAX_ERROR"),
    ('{"openapi": "3.1.0", "openapi": "3.0.0"}', "OPENAPI_SYNTAX_ERROR"),
    ("a: &x [1]\nb: *x\n", "OPENAPI_SYNTAX_ERROR"),
    ("just a string", "OPENAPI_INVALID"),
    ("swagger: '2.0'\ninfo: {title: t, version: '1'}\npaths: {}\n", "OPENAPI_INVALID"),
    ("openapi: 3.1.0\npaths: {}\n", "OPENAPI_INVALID"),
    ("openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths:\n  /a/{id}:\n    get:\n      responses: {}\n",
     "OPENAPI_INVALID"),
    ("openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    $ref: 'http://169.254.169.254/x'\n",
     "OPENAPI_INVALID"),
    ('{"openapi": "3.1.0", "x": ' + "[" * 100 + "]" * 100 + "}", "OPENAPI_TOO_COMPLEX"),
    ('{"openapi": "3.1.0", "x": ' + "[" * 100_000 + "]" * 100_000 + "}", "OPENAPI_TOO_COMPLEX"),
    ("openapi: 3.1.0\nx: " + "[" * 100_000 + "]" * 100_000 + "\n", "OPENAPI_TOO_COMPLEX"),
    ("openapi: 3.1.0\x00", "OPENAPI_SYNTAX_ERROR"),
    ("openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths:\n  /a: {$ref: '#/paths/~1a'}\n", "OPENAPI_INVALID"),
    ("openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get:\n      responses:\n"
     "        200: {$ref: '#/nothing'}\n", "OPENAPI_INVALID"),
    ("openapi: 3.2.0\ninfo: {title: t, version: '1'}\npaths: {}\n", "OPENAPI_INVALID"),
])
def test_bad_documents_are_refused_with_a_code_and_nothing_is_stored(text, code):
    error = refusal(text)
    assert (error.code, error.status) == (code, 422)


def test_a_document_over_the_openapi_byte_limit_is_413(settings):
    settings.GQLGOV_MAX_OPENAPI_BYTES = 1_000
    error = refusal(SHOP_REST_YAML + "#" * 1_000)
    assert (error.code, error.status) == ("OPENAPI_TOO_LARGE", 413)


def test_a_name_is_either_a_graphql_schema_or_a_rest_api():
    schema_register(actor="tester", name="shop", sdl=SHOP_SDL)
    with pytest.raises(ApiError) as raised:
        register(SHOP_REST_YAML, name="shop")
    assert (raised.value.code, raised.value.status) == ("NAME_TAKEN", 409)
    register(SHOP_REST_YAML)
    with pytest.raises(ApiError) as raised:
        schema_register(actor="tester", name="shop-rest", sdl=SHOP_SDL)
    assert (raised.value.code, raised.value.status) == ("NAME_TAKEN", 409)


def test_register_openapi_command_prints_the_version_and_the_diff(tmp_path, capsys):
    path = tmp_path / "shop.yaml"
    path.write_text(SHOP_REST_YAML)
    call_command("register_openapi", "shop-rest", str(path))
    assert "Registered shop-rest version 1 (2 routes)." in capsys.readouterr().out
    path.write_text(V2_YAML)
    call_command("register_openapi", "shop-rest", str(path))
    output = capsys.readouterr().out
    assert "Routes added: rest.DELETE./orders/{id}, rest.POST./refunds" in output
    assert "Parameters of rest.GET./orders: changed query.limit" in output
    call_command("register_openapi", "shop-rest", str(path))
    assert "Unchanged: shop-rest version 2" in capsys.readouterr().out


def test_register_openapi_command_refuses_bad_files_in_one_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("openapi: [")
    with pytest.raises(CommandError, match="OPENAPI_SYNTAX_ERROR"):
        call_command("register_openapi", "shop-rest", str(path))
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("register_openapi", "shop-rest", str(tmp_path / "missing.yaml"))


@pytest.fixture
def staff_token(db):
    return issue_token_for(make_principal("ci-bot", "service", groups=["gqlgov-admins"]))


def post(client, headers, document: str = SHOP_REST_YAML, name: str = "shop-rest"):
    return client.post(f"/api/v1/apis/{name}/versions", data=json.dumps({"document": document}),
                       content_type="application/json", **headers)


def test_the_api_route_needs_a_token(client):
    response = post(client, {})
    assert response.status_code == 401
    assert response.json()["error"]["code"]


def test_the_api_route_is_for_staff_only(client):
    agent = issue_token_for(make_principal("plain-bot", "ai"))
    response = post(client, bearer(agent))
    assert response.status_code == 403
    assert not Schema.registry.exists()


def test_the_api_route_registers_201_then_200_unchanged_and_reads_back(client, staff_token):
    created = post(client, bearer(staff_token))
    assert created.status_code == 201
    body = created.json()
    assert (body["api"], body["version"], body["created"]) == ("shop-rest", 1, True)
    assert body["operations"] == ["rest.GET./orders", "rest.GET./orders/{id}"]
    again = post(client, bearer(staff_token))
    assert (again.status_code, again.json()["created"]) == (200, False)
    assert again.json()["content_hash"] == body["content_hash"]
    read = client.get("/api/v1/apis/shop-rest", **bearer(staff_token))
    assert read.status_code == 200 and read.json()["version"] == 1


def test_the_api_route_refuses_bad_documents_with_422_and_the_one_error_shape(client, staff_token):
    response = post(client, bearer(staff_token), "openapi: 3.1.0\npaths: {}\n")
    assert response.status_code == 422
    assert set(response.json()["error"]) == {"code", "message", "details"}
    assert response.json()["error"]["code"] == "OPENAPI_INVALID"
    missing = client.post("/api/v1/apis/shop-rest/versions", data="{}", content_type="application/json",
                          **bearer(staff_token))
    assert missing.status_code == 422 and "error" in missing.json()
    assert not Schema.registry.exists()


def test_the_api_route_takes_bodies_up_to_the_schema_limit_not_beyond(client, staff_token, settings):
    padded = SHOP_REST_YAML + "#" * (settings.GQLGOV_MAX_BODY_BYTES + 10)
    assert post(client, bearer(staff_token), padded).status_code == 201
    settings.GQLGOV_MAX_SCHEMA_BYTES = 10_000
    too_large = post(client, bearer(staff_token), SHOP_REST_YAML + "#" * 20_000)
    assert too_large.status_code == 413
    assert too_large.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"


def test_an_unknown_api_or_a_graphql_schema_is_404_on_the_api_read(client, staff_token):
    schema_register(actor="tester", name="shop", sdl=SHOP_SDL)
    for name in ("nothing", "shop"):
        response = client.get(f"/api/v1/apis/{name}", **bearer(staff_token))
        assert response.status_code == 404 and response.json()["error"]["code"] == "NOT_FOUND"


def test_a_bad_api_name_is_422(client, staff_token):
    response = post(client, bearer(staff_token), name="bad%20name")
    assert response.status_code == 422


def test_the_api_route_refuses_a_document_over_the_openapi_limit_with_413(client, staff_token, settings):
    settings.GQLGOV_MAX_OPENAPI_BYTES = 1_000
    response = post(client, bearer(staff_token), SHOP_REST_YAML + "#" * 1_000)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "OPENAPI_TOO_LARGE"
    assert response.json()["error"]["details"]["limit"] == 1_000
    assert not Schema.registry.exists()
