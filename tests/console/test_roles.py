"""Roles are enforced by every custom admin page and action, not only by hidden buttons."""

import pytest

from agents.models import AuditEvent, Principal
from agents.services import token_issue
from policies.models import Decision, PolicyVersion
from policies.services import drafts
from tests.console.conftest import make_user, signed_in

pytestmark = pytest.mark.django_db

READ_PAGES = [
    "/admin/",
    "/admin/schemas/",
    "/admin/schemas/shop/",
    "/admin/schemas/shop/versions/1/",
    "/admin/schemas/shop/diff/",
    "/admin/schemas/shop/operations/mutation.refundOrder/",
    "/admin/schemas/shop/policy/1/",
    "/admin/reviews/",
    "/admin/simulator/",
    "/admin/exports/",
    "/admin/agent/support-bot/",
    "/admin/agents/",
    "/admin/decisions/",
    "/admin/policies/policyversion/",
    "/admin/audit/",
]
EDIT_PAGES = [
    "/admin/schemas/register/",
    "/admin/schemas/shop/operations/mutation.refundOrder/rules/add/",
    "/admin/schemas/shop/operations/mutation.refundOrder/rules/refunds-need-a-human/edit/",
    "/admin/agents/principal/add/",
]
NEW_RULE = {
    "id": "billing-refunds",
    "effect": "allow",
    "agents": ["support-bot"],
    "operations": "mutation.refundOrder",
    "tz": "UTC",
    "rl0_kind": "requests",
    "rl0_per": "minute",
}
ADD_RULE = "/admin/schemas/shop/operations/mutation.refundOrder/rules/add/"


def actions(number: int = 2) -> dict[str, str]:
    base = f"/admin/schemas/shop/policy/{number}"
    return {name: f"{base}/{name}/" for name in ("submit", "withdraw", "approve", "reject", "rollback")}


@pytest.fixture
def draft(shop, editor):
    """Version 2: a draft with one added rule, written by `editor`."""
    return drafts.rule_upsert(
        schema=shop, user=editor, rule={"id": "extra", "effect": "deny", "operations": ["mutation.login"]}
    )


@pytest.fixture
def in_review(draft, editor):
    return drafts.draft_submit(version=draft, user=editor)


@pytest.mark.parametrize("url", READ_PAGES)
def test_every_role_reads_every_page(url, shop, support_bot, viewer, editor, approver, admin_user):
    for user in (viewer, editor, approver, admin_user):
        assert signed_in(user).get(url).status_code == 200, (user.username, url)


@pytest.mark.parametrize("url", READ_PAGES + EDIT_PAGES)
def test_someone_without_a_role_is_sent_to_the_login_page(url, shop, support_bot, outsider):
    response = signed_in(outsider).get(url)
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


@pytest.mark.parametrize("url", EDIT_PAGES)
def test_only_editors_and_admins_open_edit_forms(url, shop, viewer, approver, editor, admin_user):
    assert signed_in(viewer).get(url).status_code == 403
    assert signed_in(approver).get(url).status_code == 403
    assert signed_in(editor).get(url).status_code == 200
    assert signed_in(admin_user).get(url).status_code == 200


def test_a_viewer_cannot_add_a_rule_by_posting_the_form(shop, viewer, approver):
    for user in (viewer, approver):
        assert signed_in(user).post(ADD_RULE, NEW_RULE).status_code == 403
    assert not PolicyVersion.objects.filter(status="draft").exists()


def test_an_editors_first_rule_creates_a_draft_from_the_active_version_and_audits_it(shop, support_bot, editor):
    response = signed_in(editor).post(ADD_RULE, NEW_RULE)
    assert response.status_code == 302
    draft = PolicyVersion.objects.get(status="draft")
    assert draft.number == 2 and draft.author == editor
    assert [r["id"] for r in draft.document["rules"]] == [
        *(r["id"] for r in shop.active_policy.document["rules"]),
        "billing-refunds",
    ]
    shop.active_policy.refresh_from_db()
    assert "billing-refunds" not in str(shop.active_policy.document)  # never edited in place
    saved = AuditEvent.objects.get(action="policy.rule_saved")
    assert (saved.actor, saved.details["rule"], saved.details["change"]) == (
        "user:eddie",
        "billing-refunds",
        "added",
    )
    assert AuditEvent.objects.filter(action="policy.draft_created", target_id=str(draft.pk)).exists()


def test_an_invalid_cel_expression_is_reported_next_to_its_field_and_nothing_is_saved(shop, support_bot, editor):
    response = signed_in(editor).post(ADD_RULE, {**NEW_RULE, "expression": "args.id =="})
    assert response.status_code == 200
    assert "CEL syntax error" in str(response.context["form"].errors["expression"])
    assert 'value="billing-refunds"' in response.content.decode()  # what was typed is kept
    assert not PolicyVersion.objects.filter(status="draft").exists()
    assert not AuditEvent.objects.filter(action__startswith="policy.rule").exists()


def test_readable_errors_for_ip_ranges_hours_and_duplicate_ids(shop, support_bot, editor):
    response = signed_in(editor).post(
        ADD_RULE,
        {**NEW_RULE, "id": "refunds-need-a-human", "source_ips": "10.0.0.300/8", "hours_from": "8am"},
    )
    errors = response.context["form"].errors
    assert "is not an IP range" in str(errors["source_ips"])
    assert "HH:MM" in str(errors["hours_from"])
    response = signed_in(editor).post(ADD_RULE, {**NEW_RULE, "id": "refunds-need-a-human"})
    assert "exists" in str(response.context["form"].errors["id"])


def test_submit_and_withdraw_need_the_editor_role(draft, viewer, approver, editor):
    for user in (viewer, approver):
        assert signed_in(user).post(actions()["submit"]).status_code == 403
    assert signed_in(editor).post(actions()["submit"]).status_code == 302
    assert PolicyVersion.objects.get(pk=draft.pk).status == "in_review"
    assert signed_in(viewer).post(actions()["withdraw"]).status_code == 403
    assert AuditEvent.objects.filter(action="policy.submitted", actor="user:eddie").exists()


def test_approve_and_reject_need_the_approver_role(in_review, viewer, editor):
    for user in (viewer, editor):
        for name in ("approve", "reject"):
            assert signed_in(user).post(actions()[name], {"comment": "x"}).status_code == 403
    assert PolicyVersion.objects.get(pk=in_review.pk).status == "in_review"


def test_an_approver_approves_a_submitted_version_which_becomes_active(shop, in_review, approver):
    response = signed_in(approver).post(actions()["approve"], {"comment": "Looks right."})
    assert response.status_code == 302
    shop.refresh_from_db()
    assert shop.active_policy.number == 2
    assert shop.active_policy.review_comment == "Looks right."
    assert AuditEvent.objects.filter(action="policy.approved", actor="user:april").exists()


def test_the_author_cannot_approve_or_reject_their_own_draft(shop):
    both = make_user("bea", "editor", "approver")
    version = drafts.rule_upsert(
        schema=shop, user=both, rule={"id": "x", "effect": "deny", "operations": ["mutation.login"]}
    )
    drafts.draft_submit(version=version, user=both)
    client = signed_in(both)
    page = client.get("/admin/schemas/shop/policy/2/").content.decode()
    assert 'id="approve"' not in page and "another approver must review it" in page
    assert client.post(actions()["approve"]).status_code == 403
    assert client.post(actions()["reject"], {"comment": "no"}).status_code == 403
    assert PolicyVersion.objects.get(pk=version.pk).status == "in_review"


def test_someone_who_edited_anothers_draft_cannot_approve_it_either(shop, draft):
    helper = make_user("hal", "editor", "approver")
    drafts.rule_upsert(schema=shop, user=helper, rule={"id": "y", "effect": "deny", "operations": ["mutation.login"]})
    drafts.draft_submit(version=draft, user=helper)
    assert signed_in(helper).post(actions()["approve"]).status_code == 403


def test_rejecting_needs_a_comment_and_keeps_the_active_version(shop, in_review, approver):
    client = signed_in(approver)
    client.post(actions()["reject"], {"comment": ""})
    assert PolicyVersion.objects.get(pk=in_review.pk).status == "in_review"
    client.post(actions()["reject"], {"comment": "Deny rules need a ticket."})
    rejected = PolicyVersion.objects.get(pk=in_review.pk)
    assert (rejected.status, rejected.review_comment) == ("rejected", "Deny rules need a ticket.")
    shop.refresh_from_db()
    assert shop.active_policy.number == 1
    assert AuditEvent.objects.filter(action="policy.rejected").exists()


def test_edits_pause_while_a_version_is_in_review(shop, support_bot, in_review, editor):
    response = signed_in(editor).post(ADD_RULE, NEW_RULE)
    assert "waiting for review" in response.content.decode()
    assert PolicyVersion.objects.get(pk=in_review.pk).document == in_review.document


def test_rollback_needs_the_approver_role(shop, in_review, approver, editor):
    signed_in(approver).post(actions()["approve"])
    assert signed_in(editor).post(actions(1)["rollback"]).status_code == 403
    assert signed_in(approver).post(actions(1)["rollback"]).status_code == 302
    shop.refresh_from_db()
    assert shop.active_policy.number == 1


def test_agent_actions_need_the_editor_role(shop, support_bot, viewer, approver, editor):
    token, _ = token_issue(actor="test", principal=support_bot)
    base = "/admin/agent/support-bot"
    posts = [
        f"{base}/tokens/issue/",
        f"{base}/tokens/{token.pk}/revoke/",
        f"{base}/tokens/{token.pk}/rotate/",
        f"{base}/status/suspend/",
        f"{base}/status/resume/",
    ]
    for user in (viewer, approver):
        for url in posts:
            assert signed_in(user).post(url).status_code == 403, (user.username, url)
    response = signed_in(editor).post(f"{base}/status/suspend/")
    assert response.status_code == 302
    assert Principal.objects.get(pk=support_bot.pk).status == "suspended"
    assert AuditEvent.objects.filter(action="principal.suspended", actor="user:eddie").exists()


def test_a_token_is_shown_once_in_the_answer_to_its_issue_and_never_again(support_bot, editor):
    client = signed_in(editor)
    response = client.post("/admin/agent/support-bot/tokens/issue/", {"label": "ci", "expires_in_days": "30"})
    page = response.content.decode()
    token = response.context["new_token"]["token"]
    assert token in page and "no-store" in response["Cache-Control"]
    assert token not in client.get("/admin/agent/support-bot/").content.decode()
    assert AuditEvent.objects.filter(action="token.issued", actor="user:eddie").exists()


def test_viewers_do_not_see_token_details(support_bot, viewer, editor):
    token, _ = token_issue(actor="test", principal=support_bot)
    assert token.prefix not in signed_in(viewer).get("/admin/agent/support-bot/").content.decode()
    assert token.prefix in signed_in(editor).get("/admin/agent/support-bot/").content.decode()
    assert signed_in(viewer).get("/admin/agents/apitoken/").status_code == 403


def test_creating_an_agent_in_the_admin_goes_through_the_service(editor):
    response = signed_in(editor).post(
        "/admin/agents/principal/add/",
        {
            "name": "new-bot",
            "kind": "ai",
            "groups_text": "support, billing",
            "attributes_text": "team=support",
            "iam_role_arn": "",
            "oidc_subject": "",
        },
    )
    assert response.status_code == 302 and response["Location"] == "/admin/agent/new-bot/"
    bot = Principal.objects.get(name="new-bot")
    assert (bot.groups, bot.attributes) == (["billing", "support"], {"team": "support"})
    assert AuditEvent.objects.get(action="principal.created", target_id=str(bot.pk)).actor == "user:eddie"


def test_a_bad_attribute_line_is_reported_and_the_input_kept(editor):
    response = signed_in(editor).post(
        "/admin/agents/principal/add/", {"name": "new-bot", "kind": "ai", "attributes_text": "team support"}
    )
    assert response.status_code == 200
    assert "key=value" in response.content.decode() and "team support" in response.content.decode()
    assert not Principal.objects.filter(name="new-bot").exists()


def test_the_simulator_decides_without_recording_anything(shop, support_bot, viewer):
    before = AuditEvent.objects.count()
    response = signed_in(viewer).post(
        "/admin/simulator/",
        {
            "schema": "shop",
            "version": "active",
            "agent": "",
            "tz": "UTC",
            "ip": "10.1.2.3",
            "subject": '{"name": "demo-agent", "kind": "ai", "groups": ["support"]}',
            "query": "{ orders(first: 2) { edges { node { id customer { ssn } } } } }",
        },
    )
    result = response.context["result"]
    assert result["decision"] == "deny"
    assert "FORBIDDEN_FIELD" in {reason["code"] for reason in result["reasons"]}
    assert result["decided_by"] == "support-reads-orders"
    assert "Hint: Leave Customer.ssn out of the selection at orders.edges.node.customer.ssn" in response.content.decode()
    assert Decision.objects.count() == 0 and AuditEvent.objects.count() == before


def test_export_actions_need_the_approver_role(shop, viewer, editor):
    for user in (viewer, editor):
        assert signed_in(user).post("/admin/exports/targets/1/sync/").status_code == 403


def test_the_audit_trail_shows_the_chain_status(support_bot, viewer):
    page = signed_in(viewer).get("/admin/audit/").content.decode()
    assert "Chain verified" in page
    AuditEvent.objects.filter(action="principal.created").update(actor="someone-else")
    page = signed_in(viewer).get("/admin/audit/").content.decode()
    assert "Chain broken" in page


def test_the_favicon_is_served_and_view_site_leads_to_the_overview(client, admin_user):
    from django.contrib import admin

    assert client.get("/favicon.ico").status_code == 301
    assert admin.site.site_url == "/admin/"
    page = signed_in(admin_user).get("/admin/")
    assert b"gqlgov/favicon.svg" in page.content
