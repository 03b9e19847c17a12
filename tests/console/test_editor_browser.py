"""The rule editor and the simulator's GraphQL editor in Chromium: the field picker on a GitHub-sized
schema (load and search times printed and recorded in docs/benchmarks.md, never asserted), its
keyboard use, completion from the schema, and a label on every control.

The GraphQL editor is built from the npm registry by `make install-test` (tools/vendor_static.py);
these tests need that build, as CI's install step makes it."""

import json
import re
import time
from pathlib import Path

import pytest
from graphql import build_schema
from playwright.sync_api import expect

from policies.models import PolicyVersion
from policies.services import schema_register
from tests.support.github_size_schema import github_size_sdl

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

EDITOR_BUNDLE = Path(__file__).resolve().parents[2] / "gqlgov/console/static/gqlgov/vendor/graphql-editor.js"
REBATE_SDL = Path(__file__).resolve().parents[1] / "data" / "rebate.graphql"
FIGURES = Path(__file__).resolve().parents[2] / "test-artifacts" / "editor-benchmark.json"

# Every control of the page's content without an accessible name (label, aria-label(ledby), title, text).
UNLABELLED = """() => {
  const named = (el) => {
    if (el.getAttribute("aria-label")?.trim()) return true;
    const by = el.getAttribute("aria-labelledby");
    if (by && by.split(/\\s+/).some((id) => document.getElementById(id)?.textContent.trim())) return true;
    if (el.labels && [...el.labels].some((l) => l.textContent.trim())) return true;
    if (el.title?.trim()) return true;
    return (el.tagName === "BUTTON" || el.getAttribute("role") === "treeitem") && el.textContent.trim() !== "";
  };
  const controls = document.querySelectorAll(
    "#content input:not([type=hidden]), #content select, #content textarea, #content button, " +
    "#content [contenteditable=true], #content [role=treeitem], #content [role=tree]");
  return [...controls].filter((el) => el.getClientRects().length && !named(el))
    .map((el) => el.outerHTML.slice(0, 120));
}"""


@pytest.fixture
def github(db):
    return schema_register(actor="test", name="github", sdl=github_size_sdl())[0].schema


def _record(name: str, figures: dict) -> None:
    print(f"\n{name}: " + ", ".join(f"{key} {value}" for key, value in figures.items()))
    FIGURES.parent.mkdir(parents=True, exist_ok=True)
    recorded = json.loads(FIGURES.read_text()) if FIGURES.exists() else {}
    FIGURES.write_text(json.dumps({**recorded, name: figures}, indent=2))


def _open_timed(session, path: str) -> dict:
    page = session.page
    began = time.perf_counter()
    session.go(path)
    expect(page.locator("#field-picker")).to_have_attribute("data-ready", "true")
    wall = (time.perf_counter() - began) * 1000
    timing = page.evaluate(
        """() => { const n = performance.getEntriesByType("navigation")[0];
           return {response: n.responseEnd, dom: n.domContentLoadedEventEnd}; }"""
    )
    ready = float(page.get_attribute("#field-picker", "data-ready-ms"))
    return {
        "page_ready_ms": round(wall),
        "server_response_ms": round(timing["response"]),
        "dom_content_loaded_ms": round(timing["dom"]),
        "picker_build_ms": ready,
    }


def _search_timed(page, text: str, expected: str) -> dict:
    began = time.perf_counter()
    page.fill("#field-picker-search", text)
    expect(page.locator(expected)).to_be_visible()
    return {
        "wall_ms": round((time.perf_counter() - began) * 1000),
        "render_ms": float(page.get_attribute("#field-picker", "data-search-ms")),
    }


def test_the_rule_editor_on_a_github_sized_schema_finds_and_denies_fields(sign_in, github):
    editor = sign_in("editor")
    url = "/admin/schemas/github/operations/query.repository/rules/add/"
    first = _open_timed(editor, url)
    again = _open_timed(editor, url)
    page = editor.page
    types = page.locator("#field-picker-tree > [role=treeitem]").count()
    assert types >= 1_300
    assert re.search(r"\d{4} types reachable", page.inner_text("#field-picker-count"))

    exact = _search_timed(page, "Repository.sta", '#field-picker-tree [data-coordinate="Repository.state"]')
    broad = _search_timed(page, "id", '#field-picker-tree [data-coordinate$=".id"] >> nth=0')
    assert "refine the search" in page.inner_text("#field-picker-count")  # 1,300 match: 500 shown
    page.click('#field-picker-tree [data-coordinate$=".id"] >> nth=0')
    first_id = page.locator("[data-picker-chosen] [data-coordinate]").first.get_attribute("data-coordinate")
    page.fill("#field-picker-search", "Repository.sta")
    page.click('#field-picker-tree [data-coordinate="Repository.state"]')
    chosen = page.locator("[data-picker-chosen] [data-coordinate]")
    expect(chosen).to_have_count(2)
    assert page.get_attribute('#field-picker-tree [data-coordinate="Repository.state"]', "aria-selected") == "true"
    _record(
        "rule editor, github-size schema",
        {
            "types": types,
            "first load": first,
            "second load": again,
            "search Repository.sta (1 field)": exact,
            "search id (1,300 fields)": broad,
        },
    )
    assert page.evaluate(UNLABELLED) == []
    editor.shot("20-rule-editor-github-size")

    page.fill("#id_id", "repository-reads")
    page.click("#save-rule")
    page.wait_for_url(re.compile(r"/operations/query\.repository/$"))
    rule = PolicyVersion.objects.get(status="draft").document["rules"][0]
    assert rule["fields"] == {"deny": sorted([first_id, "Repository.state"])}


def test_the_field_picker_is_used_with_the_keyboard(sign_in, shop):
    editor = sign_in("editor")
    page = editor.go("/admin/schemas/shop/operations/query.order/rules/add/")
    expect(page.locator("#field-picker")).to_have_attribute("data-ready", "true")
    page.focus("#field-picker-search")
    page.keyboard.type("ssn")
    customer = page.locator("[role=treeitem][data-type=Customer]")
    field = page.locator('#field-picker-tree [data-coordinate="Customer.ssn"]')
    # (key, element, expected attribute and value; None: the element has the focus)
    steps = [
        ("ArrowDown", customer, None),  # into the tree: the first type found, open with its matches
        ("ArrowDown", field, None),
        ("Space", field, ("aria-selected", "true")),
        ("Enter", field, ("aria-selected", "false")),
        ("Enter", field, ("aria-selected", "true")),
        ("ArrowLeft", customer, None),  # back to the type, then closed and opened again
        ("ArrowLeft", customer, ("aria-expanded", "false")),
        ("ArrowRight", customer, ("aria-expanded", "true")),
    ]
    for key, element, attribute in steps:
        page.keyboard.press(key)
        if attribute:
            expect(element).to_have_attribute(*attribute)
        else:
            expect(element).to_be_focused()
    page.keyboard.press("c")  # type-to-search: a letter typed in the tree goes to the search box
    expect(page.locator("#field-picker-search")).to_be_focused()
    expect(page.locator("#field-picker-search")).to_have_value("ssnc")
    page.keyboard.press("Escape")
    expect(page.locator("#field-picker-search")).to_have_value("")
    chosen = page.locator("[data-picker-chosen] [data-coordinate]")
    expect(chosen).to_have_count(1)
    expect(chosen).to_have_attribute("data-coordinate", "Customer.ssn")
    assert page.evaluate(UNLABELLED) == []
    editor.shot("21-field-picker-keyboard")

    page.click("#save-rule")
    page.wait_for_url(re.compile(r"/operations/query\.order/$"))
    rule = next(r for r in PolicyVersion.objects.get(status="draft").document["rules"] if r["id"] == "order")
    assert rule["fields"] == {"deny": ["Customer.ssn"]}


def test_the_simulators_editor_completes_a_field_from_the_schema(sign_in, shop, support_bot):
    assert EDITOR_BUNDLE.exists(), "build the GraphQL editor first: make static (python3 tools/vendor_static.py)"
    rebate = schema_register(actor="test", name="rebate", sdl=REBATE_SDL.read_text())[0]
    rebate_types = len([name for name in build_schema(rebate.sdl).type_map if not name.startswith("__")])
    viewer = sign_in("viewer")
    page = viewer.go("/admin/simulator/?schema=shop")
    expect(page.locator(".gg-editor-status")).to_contain_text("Schema loaded")
    editor = page.locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.type("{ ord")
    option = page.locator(".cm-tooltip-autocomplete li", has_text=re.compile(r"^orders"))
    expect(option).to_be_visible()
    option.click()
    page.keyboard.type("(first: 2) { edges { node { cust")
    expect(page.locator(".cm-tooltip-autocomplete li", has_text=re.compile(r"^customer"))).to_be_visible()
    # CodeMirror ignores Enter for 75 ms after the list changes (so a fast typist's Enter is a newline).
    page.wait_for_timeout(200)
    page.keyboard.press("Enter")
    assert page.input_value("#id_query").startswith("{ orders(first: 2) { edges { node { customer")
    field_colour = page.locator(".cm-content span", has_text=re.compile(r"^orders$")).evaluate(
        "e => getComputedStyle(e).color"
    )
    assert field_colour == "rgb(31, 97, 160)"  # highlighted as a field

    page.keyboard.press("Control+a")
    page.keyboard.type("{ nosuchfield ")
    expect(page.locator(".cm-lintRange-error")).to_have_count(1)  # checked against the schema as typed
    page.keyboard.press("Control+z")  # undo returns the completed document
    expect(page.locator(".cm-lintRange-error")).to_have_count(0)

    explorer = page.locator("#schema-explorer")
    explorer.get_by_role("button", name="Query", exact=True).click()
    expect(explorer.locator("h3")).to_have_text("Query")
    explorer.get_by_role("button", name="OrderConnection!", exact=True).first.click()
    expect(explorer.locator("h3")).to_have_text("OrderConnection")
    assert page.evaluate(UNLABELLED) == []
    viewer.shot("22-simulator-editor")

    versions = page.locator("#id_version option")
    expect(versions).to_have_text(["active (v1)", "v1 (approved)"])
    page.select_option("#id_schema", "rebate")  # the versions and the editor's schema follow the pick
    expect(versions).to_have_text(["active (none yet)"])
    expect(page.locator(".gg-editor-status")).to_contain_text(f"Schema loaded ({rebate_types} types)")
    page.select_option("#id_schema", "shop")
    expect(versions).to_have_text(["active (v1)", "v1 (approved)"])
    page.fill("#id_subject", '{"name": 5}')
    expect(page.locator("#id_subject-problem")).to_have_text('"name" must be a non-empty string.')
    page.click("#simulate-run")  # refused in the page: nothing is sent
    expect(page.locator("#simulation-result")).to_contain_text("Fill in the form")
    page.fill("#id_subject", '{"name": "demo-agent", "kind": "ai", "groups": ["support"]}')
    expect(page.locator("#id_subject-problem")).to_have_text("")
    page.locator(".cm-content").click()
    page.keyboard.press("Control+a")
    page.keyboard.type("{ orders(first: 2) { totalCount ")
    page.click("#simulate-run")
    expect(page.locator("#simulated-decision")).to_have_text("allow")
    expect(page.locator(".gg-editor-status")).to_contain_text("Schema loaded")
    assert page.input_value("#id_query").startswith("{ orders(first: 2) { totalCount")
