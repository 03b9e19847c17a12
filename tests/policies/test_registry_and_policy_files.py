"""Schema registry and policy-as-code: register, load, approve, dump, roll back."""

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from agents.models import AuditEvent
from policies.models import PolicyVersion, Schema, SchemaVersion
from tests.conftest import bearer, issue_token_for, make_principal
from tests.policies.conftest import SHOP_POLICY, SHOP_SDL, activate_policy, users

pytestmark = pytest.mark.django_db


@pytest.fixture
def sdl_file(tmp_path):
    path = tmp_path / "shop.graphql"
    path.write_text(SHOP_SDL)
    return path


@pytest.fixture
def policy_file(tmp_path):
    path = tmp_path / "shop.yaml"
    path.write_text(SHOP_POLICY)
    return path


def test_register_schema_extracts_operations(sdl_file, capsys):
    call_command("register_schema", "shop", str(sdl_file))
    assert "Registered shop version 1" in capsys.readouterr().out
    version = SchemaVersion.objects.get()
    assert "query.orders" in version.operations
    assert "mutation.refundOrder" in version.operations
    assert AuditEvent.objects.filter(action="schema.registered").count() == 1


def test_registering_identical_sdl_is_a_no_op(sdl_file, capsys):
    call_command("register_schema", "shop", str(sdl_file))
    call_command("register_schema", "shop", str(sdl_file))
    assert "Unchanged: shop version 1" in capsys.readouterr().out
    assert SchemaVersion.objects.count() == 1


def test_new_version_records_the_diff_and_ungoverned_operations(shop, tmp_path, capsys):
    changed = SHOP_SDL.replace("  login(username: String!, password: String!): String\n",
                               "  cancelOrder(id: ID!): Order\n")
    path = tmp_path / "v2.graphql"
    path.write_text(changed)
    call_command("register_schema", "shop", str(path))
    output = capsys.readouterr().out
    version = SchemaVersion.objects.get(number=2)
    assert version.diff["operations_added"] == ["mutation.cancelOrder"]
    assert version.diff["operations_removed"] == ["mutation.login"]
    assert "ungoverned operation: mutation.cancelOrder" in output
    assert "stale rule reference" in output  # the payments rule names mutation.login


def test_garbage_sdl_is_refused_with_the_parser_line(tmp_path):
    path = tmp_path / "bad.graphql"
    path.write_text("type Query {\n  orders: [Order\n}\n")
    with pytest.raises(CommandError, match=r"SCHEMA_SYNTAX_ERROR.*line"):
        call_command("register_schema", "shop", str(path))
    assert not Schema.objects.exists()


def test_load_policy_creates_a_draft_numbered_from_one(shop_schema, policy_file, capsys):
    users()
    call_command("load_policy", str(policy_file), "--author", "author")
    version = PolicyVersion.objects.get()
    assert (version.number, version.status) == (1, "draft")
    assert Schema.objects.get().active_policy is None


def test_invalid_policy_names_rule_and_field_and_saves_nothing(shop_schema, tmp_path):
    users()
    path = tmp_path / "bad.yaml"
    path.write_text(SHOP_POLICY.replace("effect: deny", "effect: maybe"))
    with pytest.raises(CommandError, match="no-ai-deletes") as error:
        call_command("load_policy", str(path), "--author", "author")
    assert "effect" in str(error.value)
    assert not PolicyVersion.objects.exists()


def test_author_cannot_approve_their_own_version(shop_schema, policy_file):
    author, _approver = users()
    author.is_superuser = True
    author.save()
    call_command("load_policy", str(policy_file), "--author", "author")
    with pytest.raises(CommandError, match="SELF_APPROVAL"):
        call_command("approve_policy", "shop", "1", "--approver", "author")


def test_an_approver_who_edited_a_draft_cannot_approve_it_from_the_command_line_either(shop_schema, policy_file):
    from policies.services import drafts

    _author, approver = users()
    call_command("load_policy", str(policy_file), "--author", "author")
    drafts.rule_upsert(schema=shop_schema.schema, user=approver,
                       rule={"id": "extra", "effect": "deny", "operations": ["mutation.deleteOrder"]})
    with pytest.raises(CommandError, match="SELF_APPROVAL"):
        call_command("approve_policy", "shop", "1", "--approver", "approver")


def test_approver_needs_the_approve_permission(shop_schema, policy_file):
    users()
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_user("bystander")
    call_command("load_policy", str(policy_file), "--author", "author")
    with pytest.raises(CommandError, match="PERMISSION_DENIED"):
        call_command("approve_policy", "shop", "1", "--approver", "bystander")


def test_approved_version_becomes_active_and_is_audited(shop_schema, policy_file):
    users()
    call_command("load_policy", str(policy_file), "--author", "author")
    call_command("approve_policy", "shop", "1", "--approver", "approver")
    schema = Schema.objects.get()
    assert schema.active_policy.number == 1
    assert AuditEvent.objects.filter(action="policy.approved").count() == 1
    with pytest.raises(CommandError, match="NOT_APPROVABLE"):
        call_command("approve_policy", "shop", "1", "--approver", "approver")


def test_dump_policy_round_trips(shop, capsys, tmp_path):
    call_command("dump_policy", "shop")
    first = capsys.readouterr().out
    path = tmp_path / "again.yaml"
    path.write_text(first)
    call_command("load_policy", str(path), "--author", "author")
    capsys.readouterr()
    call_command("dump_policy", "shop", "--version", "2")
    assert capsys.readouterr().out == first


def test_rollback_reactivates_an_earlier_approved_version(shop):
    activate_policy(SHOP_POLICY.replace("max_cost: 300", "max_cost: 200"))
    assert Schema.objects.get().active_policy.number == 2
    call_command("rollback_policy", "shop", "1")
    assert Schema.objects.get().active_policy.number == 1
    assert AuditEvent.objects.filter(action="policy.rolled_back").count() == 1


def test_schema_api_registers_for_staff_only(client, staff_token):
    agent = issue_token_for(make_principal("plain-bot", "ai"))
    url = "/api/v1/schemas/shop/versions"
    body = json.dumps({"sdl": SHOP_SDL})
    refused = client.post(url, data=body, content_type="application/json", **bearer(agent))
    assert refused.status_code == 403
    created = client.post(url, data=body, content_type="application/json", **bearer(staff_token))
    assert created.status_code == 201
    assert created.json()["version"] == 1
    again = client.post(url, data=body, content_type="application/json", **bearer(staff_token))
    assert again.status_code == 200
    assert again.json()["created"] is False
    garbage = client.post(url, data=json.dumps({"sdl": "type {"}), content_type="application/json", **bearer(staff_token))
    assert garbage.status_code == 422
    assert garbage.json()["error"]["code"] == "SCHEMA_SYNTAX_ERROR"
    listed = client.get("/api/v1/schemas/shop", **bearer(staff_token)).json()
    assert "mutation.login" in listed["ungoverned"]


def wide_sdl(fields: int) -> str:
    """A valid schema of `fields` root query fields: 3 tokens each, ~12 bytes each."""
    return "type Query { " + " ".join(f"f{i}: Int" for i in range(fields)) + " }"


@pytest.fixture
def staff_token(db):
    return issue_token_for(make_principal("ci-bot", "service", groups=["gqlgov-admins"]))


def register(client, token, sdl: str):
    return client.post("/api/v1/schemas/wide/versions", data=json.dumps({"sdl": sdl}),
                       content_type="application/json", **bearer(token))


def test_schema_registration_takes_bodies_beyond_the_general_body_limit(client, staff_token, settings):
    sdl = wide_sdl(30_000)
    assert len(sdl) > settings.GQLGOV_MAX_BODY_BYTES

    assert register(client, staff_token, sdl).status_code == 201
    check = client.post("/api/v1/check", data=json.dumps({"query": "{ f0 }", "pad": sdl}),
                        content_type="application/json", **bearer(staff_token))
    assert check.status_code == 413


def test_schema_registration_bodies_over_their_own_limit_get_413(client, staff_token, settings):
    settings.GQLGOV_MAX_SCHEMA_BYTES = 10_000
    response = register(client, staff_token, wide_sdl(2_000))

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert response.json()["error"]["details"]["limit"] == 10_000


def test_sdl_over_the_token_limit_is_refused_before_it_is_built_and_nothing_is_stored(client, staff_token, settings):
    settings.GQLGOV_MAX_SCHEMA_TOKENS = 1_000
    at_the_limit = register(client, staff_token, wide_sdl(330))  # 4 + 3 x 330 = 994 tokens
    beyond = register(client, staff_token, wide_sdl(340))

    assert at_the_limit.status_code == 201
    assert beyond.status_code == 413
    assert beyond.json()["error"]["code"] == "SCHEMA_TOO_LARGE"
    assert beyond.json()["error"]["details"] == {"max_tokens": 1_000}
    assert SchemaVersion.objects.count() == 1
    assert AuditEvent.objects.filter(action="schema.registered").count() == 1


def test_register_schema_command_applies_the_token_limit(tmp_path, settings):
    settings.GQLGOV_MAX_SCHEMA_TOKENS = 1_000
    path = tmp_path / "wide.graphql"
    path.write_text(wide_sdl(340))

    with pytest.raises(CommandError, match="SCHEMA_TOO_LARGE"):
        call_command("register_schema", "wide", str(path))
    assert not SchemaVersion.objects.exists()


def interface_chain(count: int, implemented: int) -> str:
    """`count` interfaces, each implementing the previous `implemented` (the review's 293 KB SDL: 800, 50)."""
    definitions = []
    for index in range(count):
        parents = [f"I{other}" for other in range(max(0, index - implemented), index)]
        implements = f" implements {' & '.join(parents)}" if parents else ""
        definitions.append(f"interface I{index}{implements} {{ f: Int }}")
    return "\n".join(definitions) + "\ntype Query { a: I0 }"


def test_sdl_too_complex_to_validate_is_refused_before_building_and_nothing_is_stored(client, staff_token):
    from policies.models import SchemaVersion

    response = register(client, staff_token, interface_chain(800, 50))

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "SCHEMA_TOO_COMPLEX"
    assert response.json()["error"]["details"]["max_interface_checks"] == 20_000
    assert not SchemaVersion.objects.exists()


def test_a_lenient_schema_stores_a_bounded_number_of_diagnostics(client, staff_token):
    from policies.models import SchemaVersion

    response = register(client, staff_token, interface_chain(150, 10))  # 7,480 diagnostics; 15,345 checks

    assert response.status_code == 201
    diagnostics = SchemaVersion.objects.get().diagnostics
    assert len(diagnostics) == 101
    assert diagnostics[-1] == "… and 7,380 more diagnostics."
    assert all(len(message) <= 500 for message in diagnostics)


def test_sdl_that_describes_no_schema_gets_a_json_error_and_nothing_is_stored(client, staff_token):
    from policies.models import SchemaVersion

    response = register(client, staff_token, "type Query { a: Phantom }")

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "SCHEMA_INVALID"
    assert not SchemaVersion.objects.exists()
