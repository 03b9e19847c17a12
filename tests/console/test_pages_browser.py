"""The record, review and export pages in Chromium: content, filters, labels, progress, downloads.

Screenshots land in test-artifacts/screenshots/ (test output only; nothing compares pixels).
"""

import copy
import json
import re

import pytest
import requests
from playwright.sync_api import expect

from agents.models import AuditEvent
from agents.services import principal_create, token_issue
from policies.gateway import services as gateway
from policies.services import drafts
from tests.console.conftest import make_user
from tests.support.celery_worker import _forget_connections
from tests.support.redis_server import throwaway_redis_server  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

EVERY_CONTROL_HAS_A_LABEL = """root => [...root.querySelectorAll('input:not([type=hidden]), select, textarea')]
    .filter(c => !(c.labels && c.labels.length) && !c.getAttribute('aria-label')).map(c => c.name)"""


def check(base_url: str, token: str, query: str) -> dict:
    body = {"schema": "shop", "query": query}
    return requests.post(f"{base_url}/api/v1/check", json=body, headers={"Authorization": f"Bearer {token}"},
                         timeout=10).json()


def test_agents_tokens_decisions_and_the_audit_trail_are_console_pages(sign_in, shop, live_server):
    demo = principal_create(actor="test", name="demo-agent", kind="ai", groups=["support"])
    principal_create(actor="test", name="billing-svc", kind="service", iam_role_arn="arn:aws:iam::123456789012:role/billing")
    token, plaintext = token_issue(actor="test", principal=demo)
    assert check(live_server.url, plaintext, "{ orders(first: 2) { edges { node { id } } } }")["decision"] == "allow"
    assert check(live_server.url, plaintext, '{ customer(id: "1") { name ssn } }')["decision"] == "deny"
    editor = sign_in("editor")

    page = editor.go("/admin/agents/")
    headers = page.locator("#agent-list thead").text_content()  # as written (the CSS shows it in capitals)
    assert "IAM role ARN" in headers and "OIDC subject" in headers
    assert page.evaluate(EVERY_CONTROL_HAS_A_LABEL, page.locator("#filters").element_handle()) == []
    page.get_by_label("Kind").select_option("service")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#agent-list tbody tr[data-agent]")).to_have_count(1)
    assert page.locator('[data-agent="billing-svc"]').inner_text().count("arn:aws:iam::123456789012:role/billing") == 1
    editor.shot("20-agents")

    page = editor.go("/admin/tokens/")
    assert page.locator(f'[data-token="{token.prefix}"] [data-token-state]').inner_text() == "active"
    editor.shot("21-tokens")

    page = editor.go("/admin/decisions/")
    expect(page.locator("#decision-list tbody tr[data-decision]")).to_have_count(2)
    page.get_by_label("Decision", exact=True).select_option("deny")
    page.get_by_label("Reason code").select_option("FORBIDDEN_FIELD")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#decision-list tbody tr[data-decision]")).to_have_count(1)
    assert page.evaluate(EVERY_CONTROL_HAS_A_LABEL, page.locator("#filters").element_handle()) == []
    editor.shot("22-decisions-filtered")
    page.locator("#decision-list tbody tr a").first.click()
    expect(page.locator("#decision-document")).to_contain_text("customer(id:")
    assert "{\n  customer(id:" in page.inner_text("#decision-document")  # formatted GraphQL, one field a line
    reason = page.locator('#reasons tr[data-reason="FORBIDDEN_FIELD"]')
    assert "support-reads-orders" in reason.inner_text() and "customer.ssn" in reason.inner_text()
    editor.shot("23-decision")

    page = editor.go("/admin/audit/")
    assert "Chain verified" in page.inner_text("#chain-status")
    ids = [int(i) for i in page.locator("#audit-list tbody tr").evaluate_all("rows => rows.map(r => r.dataset.event)")]
    assert ids == sorted(ids, reverse=True) and ids[0] == AuditEvent.objects.order_by("-id")[0].pk
    page.get_by_label("Action").select_option("token.issued")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#audit-list tbody tr[data-event]")).to_have_count(1)
    editor.shot("24-audit-filtered")
    page.locator("#audit-list tbody tr a").first.click()
    expect(page.locator("#event-details")).to_contain_text("token:")


def test_an_approved_versions_page_compares_it_with_the_version_before_it(sign_in, shop):
    author = make_user("author", "editor")
    rule = copy.deepcopy(next(r for r in shop.active_policy.document["rules"] if r["id"] == "support-reads-orders"))
    rule["fields"]["deny"] = [*reversed(rule["fields"]["deny"]), "Customer.email"]
    draft = drafts.rule_upsert(schema=shop, user=author, rule=rule, replaces=rule["id"])
    drafts.draft_submit(version=draft, user=author)
    drafts.policy_review_approve(version=draft, user=make_user("second-approver", "approver"))

    viewer = sign_in("viewer")
    page = viewer.go(f"/admin/schemas/shop/policy/{draft.number}/")
    heading = page.inner_text("#rule-diff h2")
    assert "Changes against the approved version before it, v1" in heading
    assert "(0 added, 1 changed, 0 removed, 2 unchanged)" in heading
    change = page.locator('#rule-diff [data-rule="support-reads-orders"] [data-key="fields.deny"]')
    assert "Customer.email" in change.inner_text() and "Customer.ssn" not in change.inner_text()  # reorder: no change
    assert page.locator("#other-changes").count() == 0
    viewer.shot("25-approved-version-diff")


@pytest.fixture
def broker_without_worker(throwaway_redis_server):  # noqa: F811 (the fixture imported above)
    """Exports are sent to a real Redis broker that no worker reads: a requested run stays queued."""
    from gqlgov.celery import app

    saved = {key: app.conf.get(key) for key in ("broker_url", "result_backend", "task_always_eager")}
    app.conf.update(broker_url=throwaway_redis_server.url, result_backend=None, task_always_eager=False)
    _forget_connections(app)
    yield
    app.conf.update(saved)
    _forget_connections(app)


def test_an_export_run_shows_progress_then_its_refusal_and_downloads_its_templates(
    sign_in, shop, tmp_path, broker_without_worker
):
    strict = gateway.target_create(
        actor="test", name="shop-strict", schema=shop, region="us-east-1", stage_name="prod",
        http_url="https://shop.internal.example/graphql", account_id="123456789012",
        endpoint_url="http://127.0.0.1:9", require_full_coverage=True,
    )
    run = gateway.export_request(actor="test", target=strict, version=shop.active_policy)
    approver = sign_in("approver")
    page = approver.go(f"/admin/exports/runs/{run.pk}/")
    progress = page.locator("#run-progress")
    expect(progress).to_contain_text("Queued")
    approver.shot("26-export-run-queued")

    # The worker's part, done here: the open page notices by itself and shows the outcome.
    gateway.export_run_execute(version_id=shop.active_policy.pk, target_id=strict.pk)
    refused = page.locator("#run-refused")
    expect(refused).to_be_visible(timeout=20000)
    assert "nothing was changed" in refused.inner_text()
    assert "Add rules for these operations" in refused.inner_text()
    assert page.locator("#run-progress").count() == 0
    assert page.locator("#run-status").evaluate("b => getComputedStyle(b).color") == "rgb(181, 71, 8)"  # warning
    approver.shot("27-export-run-refused")

    with page.expect_download() as download:
        page.locator('[data-download="cloudformation"]').click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.name == "shop-strict-v1.cloudformation.json"
    assert "Resources" in json.loads(saved.read_text())
    assert re.search(r"/download/terraform/\?version=1$", page.locator('[data-download="terraform"]').get_attribute("href"))
