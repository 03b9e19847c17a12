"""The rule editor's widgets and the simulator's inputs, read from the pages' HTML (the browser tests in
test_editor_browser.py drive the same pages in Chromium)."""

import json
import re

import pytest

from gqlgov.console.forms import TIMEZONES
from policies.models import PolicyVersion
from policies.services import drafts, schema_register
from tests.console.conftest import signed_in
from tests.support.github_size_schema import github_size_sdl

ADD_RULE = "/admin/schemas/shop/operations/mutation.refundOrder/rules/add/"


def _tree(html: str) -> list:
    match = re.search(r'<script id="field-tree-data" type="application/json">(.*?)</script>', html, re.S)
    assert match, "the page carries the field picker's data"
    return json.loads(match[1])


def test_the_time_zones_are_area_city_names_without_factory_or_localtime():
    assert TIMEZONES[0] == "UTC"
    assert "Europe/Berlin" in TIMEZONES and "America/New_York" in TIMEZONES
    for legacy in ("Factory", "localtime", "posixrules", "US/Eastern", "Etc/GMT+5", "GMT", "EST5EDT"):
        assert legacy not in TIMEZONES
    assert all(re.fullmatch(r"[A-Z][a-z]+/[A-Za-z0-9_+/-]+", tz) for tz in TIMEZONES[1:])


def test_a_rule_with_a_legacy_time_zone_keeps_it_choosable(shop, editor):
    drafts.rule_upsert(
        schema=shop,
        user=editor,
        rule={
            "id": "eastern",
            "effect": "allow",
            "operations": ["query.order"],
            "when": {"hours": {"from": "08:00", "to": "18:00", "tz": "US/Eastern"}},
        },
    )
    html = signed_in(editor).get("/admin/schemas/shop/operations/query.order/rules/eastern/edit/").content.decode()
    assert '<option value="US/Eastern" selected>' in html


def test_the_time_window_placeholders_do_not_look_like_values(shop, editor):
    html = signed_in(editor).get(ADD_RULE).content.decode()
    assert 'placeholder="HH:MM"' in html
    assert 'placeholder="08:00"' not in html and 'placeholder="18:00"' not in html


def test_agents_and_groups_are_checkbox_lists_so_one_click_never_clears_the_others(shop, support_bot, editor):
    html = signed_in(editor).get(ADD_RULE).content.decode()
    assert re.search(r'<input type="checkbox" name="agents" value="support-bot"', html)
    assert re.search(r'<input type="checkbox" name="groups" value="support"', html)
    assert "Ctrl" not in html


def test_the_operations_box_has_a_row_for_every_operation(shop, editor):
    operations = ["query.order", "query.orders", "mutation.refundOrder", "mutation.login", "query.customer"]
    drafts.rule_upsert(schema=shop, user=editor, rule={"id": "many", "effect": "allow", "operations": operations})
    html = signed_in(editor).get("/admin/schemas/shop/operations/query.order/rules/many/edit/").content.decode()
    box = re.search(r'<textarea name="operations"[^>]*>', html)[0]
    assert 'rows="6"' in box and "data-autogrow" in box


def test_the_field_picker_offers_the_fields_every_operation_of_the_rule_reaches(shop, editor):
    page = signed_in(editor).get("/admin/schemas/shop/operations/query.order/rules/support-reads-orders/edit/")
    tree = dict(_tree(page.content.decode()))
    assert "ssn" in tree["Customer"] and "id" in tree["Order"]
    assert list(tree) == sorted(tree)


def test_a_denied_field_the_operations_do_not_reach_is_refused(shop, editor):
    url = "/admin/schemas/shop/operations/query.order/rules/add/"
    form = {"id": "order-reads", "effect": "allow", "operations": "query.order", "tz": "UTC"}
    response = signed_in(editor).post(url, {**form, "field_denies": ["Customer.ssn", "Nope.field"]})
    assert response.status_code == 200 and "field_denies" in response.context["form"].errors
    assert not PolicyVersion.objects.filter(status="draft").exists()


def test_the_chosen_denied_fields_are_the_forms_hidden_inputs(shop, editor):
    html = signed_in(editor).get("/admin/schemas/shop/operations/query.order/rules/support-reads-orders/edit/")
    assert re.search(r'<input type="hidden" name="field_denies" value="Customer.ssn"', html.content.decode())


@pytest.mark.slow  # registers a 640 kB schema
def test_a_rule_saves_denied_fields_of_a_github_sized_schema(db, editor):
    schema_register(actor="test", name="github", sdl=github_size_sdl())
    url = "/admin/schemas/github/operations/query.repository/rules/add/"
    client = signed_in(editor)
    tree = dict(_tree(client.get(url).content.decode()))
    assert len(tree) >= 1_300 and sum(len(fields) for fields in tree.values()) > 15_000
    form = {"id": "repo-reads", "effect": "allow", "operations": "query.repository", "tz": "UTC"}
    assert client.post(url, {**form, "field_denies": ["Repository.title", "Nope.field"]}).status_code == 200
    assert not PolicyVersion.objects.exists()  # a field the operation does not reach is refused
    response = client.post(url, {**form, "field_denies": ["Repository.title"]})
    assert response.status_code == 302
    rule = PolicyVersion.objects.get(status="draft").document["rules"][0]
    assert rule["fields"] == {"deny": ["Repository.title"]}


def test_the_schema_sdl_is_served_to_console_users_only(shop, viewer, outsider, client):
    response = signed_in(viewer).get("/admin/schemas/shop/sdl/")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    assert "type Query" in response.content.decode()
    again = signed_in(viewer).get("/admin/schemas/shop/sdl/", headers={"If-None-Match": response["ETag"]})
    assert again.status_code == 304 and again.content == b""
    assert signed_in(outsider).get("/admin/schemas/shop/sdl/").status_code == 302
    assert client.get("/admin/schemas/shop/sdl/").status_code == 302
    assert signed_in(viewer).get("/admin/schemas/nope/sdl/").status_code == 404


def test_the_simulators_version_is_a_picker_of_the_schemas_versions(shop, editor, viewer):
    drafts.rule_upsert(schema=shop, user=editor, rule={"id": "extra", "effect": "deny", "operations": ["query.order"]})
    html = signed_in(viewer).get("/admin/simulator/?schema=shop").content.decode()
    select = re.search(r'<select name="version".*?</select>', html, re.S)[0]
    assert re.findall(r'<option value="([^"]+)"', select) == ["active", "draft", "2", "1"]
    assert "active (v1)" in select and "v2 (draft)" in select
    versions = json.loads(re.search(r'<script id="simulator-versions" type="application/json">(.*?)</script>', html)[1])
    assert [value for value, _ in versions["shop"]] == ["active", "draft", "2", "1"]


@pytest.mark.parametrize("version", ["7", "latest", ""])
def test_the_simulator_refuses_a_version_it_does_not_offer(shop, viewer, version):
    response = signed_in(viewer).post(
        "/admin/simulator/",
        {
            "schema": "shop",
            "version": version,
            "subject": '{"name": "x"}',
            "query": "{ orders { totalCount } }",
            "ip": "127.0.0.1",
            "tz": "UTC",
        },
    )
    assert response.status_code == 200 and response.context["result"] is None
    assert "version" in response.context["form"].errors


def test_the_simulators_document_is_a_graphql_editor_with_the_schemas_sdl(shop, viewer):
    html = signed_in(viewer).get("/admin/simulator/").content.decode()
    area = re.search(r'<textarea name="query"[^>]*>', html)[0]
    assert "data-graphql-editor" in area and 'data-schema-url-template="/admin/schemas/__schema__/sdl/"' in area
    assert "gqlgov/vendor/graphql-editor.js" in html
    assert "data-subject-json" in html


def test_every_vendored_static_entry_names_a_known_kind_and_an_existing_source():
    from tools import vendor_static

    spec = json.loads(vendor_static.LIST.read_text())
    assert spec["output"] == "gqlgov/console/static/gqlgov/vendor"
    for entry in spec["entries"]:
        assert entry["kind"] in vendor_static.BUILDERS, entry
        assert not entry["to"].startswith(("/", "..")), entry
        if entry["kind"] == "bundle":
            assert (vendor_static.ROOT / entry["entry"]).is_file(), entry
        else:
            assert entry["from"].startswith("node_modules/") or (vendor_static.ROOT / entry["from"]).exists(), entry
    locked = json.loads((vendor_static.ROOT / "package-lock.json").read_text())["packages"][""]
    assert {"cm6-graphql", "graphql", "@codemirror/view"} <= set(locked["dependencies"])
    assert "esbuild" in locked["devDependencies"]
