"""The admin in a real browser: people sign in through the loopback IdP and do their jobs.

Screenshots of the main pages land in test-artifacts/screenshots/.
"""

import re

import pytest
import requests
from playwright.sync_api import expect

from agents.models import Principal
from agents.services import principal_create
from policies.models import Decision, PolicyVersion

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def eager_celery():
    """Exports run in-process at commit, so the live server's approval drives them against moto.
    (The export issue's own tests use a real worker; here the UI is under test.)"""
    from gqlgov.celery import app

    saved = {key: app.conf.get(key) for key in ("task_always_eager", "task_eager_propagates")}
    app.conf.update(task_always_eager=True, task_eager_propagates=False)
    yield app
    app.conf.update(saved)


@pytest.fixture
def gateway_target(shop, moto_url, eager_celery):
    from policies.gateway.services import target_create

    return target_create(
        actor="test",
        name="shop-prod",
        schema=shop,
        region="us-east-1",
        stage_name="prod",
        http_url="https://shop.internal.example/graphql",
        account_id="123456789012",
        endpoint_url=moto_url,
    )


@pytest.fixture
def refund_bot(db):
    return principal_create(actor="test", name="refund-bot", kind="service", groups=["billing"])


def test_editor_adds_a_rule_checks_it_in_the_simulator_and_an_approver_activates_and_exports_it(
    sign_in, shop, refund_bot, gateway_target
):
    editor = sign_in("editor")
    page = editor.go("/admin/schemas/shop/")
    editor.shot("01-schema")
    page.locator("#operations").get_by_role("link", name="mutation.refundOrder", exact=True).click()
    page.wait_for_url(re.compile(r"/operations/mutation\.refundOrder/$"))
    editor.shot("02-operation")

    page.click("#add-rule")
    page.fill("#id_id", "billing-refunds")
    page.check("input[name=effect][value=allow]")
    page.check("input[name=agents][value=refund-bot]")
    page.fill("#id_expression", "args.id ==")
    page.fill("#id_max_depth", "3")
    page.fill("#field-picker-search", "Customer.ssn")
    page.click('#field-picker-tree [data-coordinate="Customer.ssn"]')
    page.click("#save-rule")

    assert "CEL syntax error" in page.locator("#field-expression .errorlist").inner_text()
    assert page.input_value("#id_id") == "billing-refunds"  # what was typed survives the failed save
    assert page.is_checked("input[name=agents][value=refund-bot]")
    chosen = page.locator("[data-picker-chosen] [data-coordinate]")
    assert chosen.evaluate_all("chips => chips.map(c => c.dataset.coordinate)") == ["Customer.ssn"]
    editor.shot("03-rule-form-error")
    assert not PolicyVersion.objects.filter(status="draft").exists()  # an invalid rule saves nothing

    page.fill("#id_expression", 'args.id != ""')
    page.click("#save-rule")
    page.wait_for_url(re.compile(r"/operations/mutation\.refundOrder/$"))
    rule = page.locator('#rules [data-rule="billing-refunds"]')
    assert "added in draft" in rule.inner_text()
    assert shop.policy_versions.get(number=1).document == PolicyVersion.objects.get(pk=shop.active_policy_id).document
    editor.shot("04-operation-with-draft")

    page.click("#simulate")
    page.select_option("#id_agent", "refund-bot")
    page.click("#simulate-run")
    assert page.inner_text("#simulated-decision") == "allow"
    assert page.inner_text("#deciding-rule") == "billing-refunds"
    editor.shot("05-simulator")
    assert Decision.objects.count() == 0  # simulating records nothing

    editor.go("/admin/schemas/shop/policy/2/")
    page.click("#submit-for-review")
    assert page.inner_text("#version-status") == "In review"
    assert page.locator("#approve").count() == 0

    approver = sign_in("approver")
    review = approver.go("/admin/reviews/")
    review.locator("#waiting").get_by_role("link", name="shop v2").click()
    added = review.locator('#rule-diff [data-rule="billing-refunds"]')
    assert added.get_attribute("data-status") == "added"
    assert review.locator('#rule-diff [data-status="changed"], #rule-diff [data-status="removed"]').count() == 0
    approver.shot("06-review")
    review.fill("#id_comment", "Refunds by the billing service are fine.")
    review.click("#approve")
    assert "approved and now active" in review.locator(".messagelist").inner_text()
    shop.refresh_from_db()
    assert shop.active_policy.number == 2

    exports = approver.go("/admin/exports/")
    run_status = exports.locator(f"#target-{gateway_target.pk} [data-run-status]").first
    assert run_status.get_attribute("data-run-status") == "succeeded"
    approver.shot("07-exports")
    exports.locator(f"#target-{gateway_target.pk}").get_by_role("link", name=re.compile(r"^#\d+$")).first.click()
    assert exports.inner_text("#run-status") == "Succeeded"
    assert exports.locator("#export-calls tbody tr").count() > 1
    approver.shot("08-export-run")

    overview = approver.go("/admin/")
    assert overview.locator('#schema-shop [data-active-version="2"]').count() == 1
    approver.shot("09-overview")


def test_the_author_of_a_draft_cannot_approve_it(sign_in, shop):
    both = sign_in("editor_and_approver")
    page = both.go("/admin/schemas/shop/operations/query.order/rules/support-reads-orders/edit/")
    page.fill("#id_max_cost", "200")
    page.click("#save-rule")
    page.wait_for_url(re.compile(r"/operations/query\.order/$"))
    page.get_by_role("link", name="Review draft v2").click()
    page.click("#submit-for-review")

    assert page.locator("#approve").count() == 0
    assert "another approver must review it" in page.inner_text("#self-approval-note")
    both.shot("10-review-own-draft")
    forged = both.forged_post("/admin/schemas/shop/policy/2/approve/", {"comment": "lgtm"})
    assert forged.status == 403
    assert PolicyVersion.objects.get(schema=shop, number=2).status == "in_review"


def test_a_viewer_sees_no_edit_controls_and_a_forged_post_is_refused(sign_in, shop, support_bot):
    viewer = sign_in("viewer")
    page = viewer.go("/admin/schemas/shop/operations/mutation.refundOrder/")
    assert page.locator("#add-rule").count() == 0
    assert page.get_by_role("link", name="Edit").count() == 0
    viewer.shot("11-operation-as-viewer")
    agent = viewer.go("/admin/agent/support-bot/")
    assert agent.locator("#issue-token").count() == 0
    assert agent.locator("#suspend-agent").count() == 0

    forged = viewer.forged_post(
        "/admin/schemas/shop/operations/mutation.refundOrder/rules/add/",
        {"id": "sneaky", "effect": "allow", "operations": "mutation.*", "tz": "UTC"},
    )
    assert forged.status == 403
    forged = viewer.forged_post("/admin/agent/support-bot/tokens/issue/", {"label": "mine"})
    assert forged.status == 403
    assert not PolicyVersion.objects.filter(status="draft").exists()
    assert not Principal.objects.get(name="support-bot").tokens.exists()


def test_a_token_is_shown_once_and_a_suspended_agent_is_refused_at_its_next_check(sign_in, shop, live_server):
    principal_create(actor="test", name="demo-agent", kind="ai", groups=["support"])
    editor = sign_in("editor")
    page = editor.go("/admin/agent/demo-agent/")
    page.fill("#issue-token input[name=label]", "browser-test")
    page.click("#issue-token button[type=submit]")
    token = page.inner_text("#new-token-value").strip()
    assert token.startswith(Principal.objects.get(name="demo-agent").tokens.get().prefix)
    editor.shot("12-token-shown-once")

    page.reload()  # a GET of the same page never shows it again
    assert page.locator("#new-token-value").count() == 0
    assert token not in page.content()

    check = {"schema": "shop", "query": "{ orders(first: 2) { edges { node { id } } } }"}
    headers = {"Authorization": f"Bearer {token}"}
    allowed = requests.post(f"{live_server.url}/api/v1/check", json=check, headers=headers, timeout=10)
    assert allowed.status_code == 200 and allowed.json()["decision"] == "allow"

    page.click("#suspend-agent")
    assert "suspended" in page.locator(".messagelist").inner_text()
    refused = requests.post(f"{live_server.url}/api/v1/check", json=check, headers=headers, timeout=10)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "AGENT_SUSPENDED"
    editor.shot("13-agent-suspended")

    decisions = editor.go("/admin/decisions/?agent_name=demo-agent")
    assert decisions.locator("#decision-list tbody tr[data-decision]").count() == 1
    editor.shot("14-decisions")
    decisions.locator("#decision-list tbody tr a").first.click()
    # Retried until the detail page has rendered it: a locator read at once may meet a half-parsed page.
    expect(decisions.locator("#decision-document")).to_contain_text("orders")
    editor.shot("15-decision-detail")
    audit = editor.go("/admin/audit/")
    assert "Chain verified" in audit.inner_text("#chain-status")
    assert audit.get_by_text("principal.suspended").count() >= 1
    editor.shot("16-audit-trail")
    editor.go("/admin/agents/")
    editor.shot("17-agents")


def test_the_admin_works_under_its_content_security_policy(sign_in, shop, support_bot):
    editor = sign_in("editor")
    page = editor.page
    refused = []
    page.on(
        "console", lambda message: refused.append(message.text) if "Content Security Policy" in message.text else None
    )
    response = page.goto(editor.base_url + "/admin/schemas/shop/operations/mutation.refundOrder/")
    assert response.headers["content-security-policy"].startswith("default-src 'self'; script-src 'self';")
    delete = page.locator('#rules [data-rule="refunds-need-a-human"]').get_by_role("button", name="Delete")

    page.once("dialog", lambda dialog: dialog.dismiss())
    delete.click()
    page.wait_for_timeout(300)
    assert not PolicyVersion.objects.filter(status="draft").exists()  # the question, answered no, stops the form
    page.once("dialog", lambda dialog: dialog.accept())
    delete.click()
    expect(page.locator(".messagelist")).to_contain_text("Deleted rule refunds-need-a-human")

    for path in ("/admin/", "/admin/schemas/shop/", "/admin/simulator/", "/admin/agent/support-bot/"):
        editor.go(path)
    assert refused == []
