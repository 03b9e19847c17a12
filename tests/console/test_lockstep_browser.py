"""Lockstep in Chromium, the way a team moves a policy onto a new schema version: register the
renamed schema, see it awaiting review, create the draft for it, fix the stale reference with
one click, replay recorded checks, submit, and have another person approve it.

Screenshots land in test-artifacts/screenshots/ (test output only; nothing compares pixels).
"""

import pytest
import requests
from playwright.sync_api import expect

from agents.services import principal_create, token_issue
from policies.models import Schema
from policies.services import schema_register
from tests.console.conftest import DEMO_DIR

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

RENAMED = (DEMO_DIR / "shop.graphql").read_text().replace("  ssn: String", "  socialSecurityNumber: String")
NEW_NAME = '{ customer(id: "1") { name socialSecurityNumber } }'


def check(base_url: str, token: str, query: str) -> dict:
    return requests.post(f"{base_url}/api/v1/check", json={"schema": "shop", "query": query},
                         headers={"Authorization": f"Bearer {token}"}, timeout=10).json()


@pytest.fixture
def replays_run_at_once():
    """The replay task runs as its request commits (no worker in this test: the flow, not Celery, is tested)."""
    from gqlgov.celery import app

    saved = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = saved


def test_a_renamed_field_waits_for_review_then_moves_with_a_fixed_replayed_and_approved_draft(
    sign_in, shop, live_server, replays_run_at_once
):
    agent = principal_create(actor="test", name="demo-agent", kind="ai", groups=["support"])
    _token, token = token_issue(actor="test", principal=agent)
    assert check(live_server.url, token, '{ customer(id: "1") { name } }')["decision"] == "allow"
    schema_register(actor="test", name="shop", sdl=RENAMED)
    assert [r["code"] for r in check(live_server.url, token, NEW_NAME)["reasons"]] == ["SCHEMA_VERSION_PENDING"]

    editor = sign_in("editor")
    page = editor.go("/admin/schemas/shop/versions/2/")
    expect(page.locator('[data-lockstep="awaiting_review"]')).to_be_visible()
    expect(page.locator('[data-stale="Customer.ssn"]')).to_be_visible()
    page.get_by_role("button", name="Create a draft for this schema version").click()
    page.get_by_role("button", name="Map to Customer.socialSecurityNumber").click()
    expect(page.locator('[data-stale="Customer.ssn"]')).to_have_count(0)
    editor.shot("30-lockstep-fixed")
    page.get_by_role("link", name="to submit it").click()
    expect(page.locator("#version-schema")).to_have_text("schema v2")
    page.get_by_label("Checks of the last").select_option("1")
    page.get_by_role("button", name="Replay").click()
    expect(page.locator("#replay-summary")).to_contain_text("checks since")
    editor.shot("31-lockstep-replayed")
    page.get_by_role("button", name="Submit for approval").click()
    number = Schema.objects.get(name="shop").policy_versions.order_by("-number").first().number

    approver = sign_in("approver")
    page = approver.go(f"/admin/schemas/shop/policy/{number}/")
    page.get_by_role("button", name="Approve and activate").click()
    expect(page.locator("#version-status")).to_have_text("Approved")
    approver.shot("32-lockstep-approved")

    answer = check(live_server.url, token, NEW_NAME)
    assert answer["decision"] == "deny" and answer["policy_version"] == number
    assert "SCHEMA_VERSION_PENDING" not in [r["code"] for r in answer["reasons"]]
    assert check(live_server.url, token, '{ customer(id: "1") { name } }')["decision"] == "allow"
