"""The server's caps hold wherever a rule is written: a policy file and the console's rule editor
refuse the same absurd values with the same message, and nothing is saved."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from agents.models import AuditEvent
from policies.models import PolicyVersion
from tests.console.conftest import DEMO_DIR, make_user, signed_in
from tests.console.test_roles import ADD_RULE, NEW_RULE

pytestmark = pytest.mark.django_db
DEPTH_CAP_MESSAGE = "must be at most 50: the server's hard cap on max_depth (GQLGOV_CAP_MAX_DEPTH)"


def test_a_policy_file_with_a_depth_over_the_cap_is_refused_naming_the_cap(shop, tmp_path):
    make_user("author", "editor")
    text = (DEMO_DIR / "shop-policy.yaml").read_text().replace("max_depth: 8", "max_depth: 99999999999999999999999")
    assert "99999999999999999999999" in text
    path = tmp_path / "shop.yaml"
    path.write_text(text)

    with pytest.raises(CommandError) as raised:
        call_command("load_policy", str(path), "--author", "author")

    assert f"defaults.limits.max_depth: {DEPTH_CAP_MESSAGE}" in str(raised.value)
    assert not PolicyVersion.objects.filter(status="draft").exists()


def test_the_rule_editor_shows_the_cap_next_to_the_limit_and_saves_nothing(shop, support_bot, editor):
    response = signed_in(editor).post(ADD_RULE, {**NEW_RULE, "max_depth": "99999999999999999999999"})

    assert response.status_code == 200
    assert response.context["form"].errors["max_depth"] == [DEPTH_CAP_MESSAGE]
    assert not PolicyVersion.objects.filter(status="draft").exists()
    assert not AuditEvent.objects.filter(action__startswith="policy.rule").exists()


def test_the_rule_editor_shows_a_burst_over_its_amount_next_to_the_burst(shop, support_bot, editor):
    response = signed_in(editor).post(ADD_RULE, {**NEW_RULE, "rl0_amount": "60", "rl0_burst": str(10**26)})

    assert response.context["form"].errors["rl0_burst"] == ["must be at most 60, the requests per minute it belongs to"]
    assert not PolicyVersion.objects.filter(status="draft").exists()


def test_the_rule_editor_refuses_a_cel_expression_that_is_not_boolean(shop, support_bot, editor):
    response = signed_in(editor).post(ADD_RULE, {**NEW_RULE, "expression": "args.amount + 1"})

    assert "must be a boolean condition, but it gives a number" in str(response.context["form"].errors["expression"])
    assert not PolicyVersion.objects.filter(status="draft").exists()


def test_the_rule_editor_refuses_a_200000_character_description_with_its_cap(shop, support_bot, editor):
    response = signed_in(editor).post(ADD_RULE, {**NEW_RULE, "description": "x" * 200_000})

    assert "at most 2000 characters" in str(response.context["form"].errors["description"])
    assert not PolicyVersion.objects.filter(status="draft").exists()


def test_an_operation_the_schema_lacks_is_saved_with_a_warning_shown_in_the_editor_and_the_review(
    shop, support_bot, editor
):
    response = signed_in(editor).post(
        ADD_RULE, {**NEW_RULE, "operations": "mutation.refundOrder\nmutation.launchRocket"}, follow=True
    )

    draft = PolicyVersion.objects.get(status="draft")
    assert [str(m) for m in response.context["messages"] if m.level_tag == "warning"] == [
        "Rule billing-refunds: operation 'mutation.launchRocket' (rules[3].operations[1]) matches nothing in"
        " schema shop v1; the rule does nothing there until it does."
    ]
    review = signed_in(editor).get(f"/admin/schemas/shop/policy/{draft.number}/").content.decode()
    assert 'id="policy-warnings"' in review and "mutation.launchRocket" in review


def test_the_note_that_another_approver_must_review_is_information_not_an_error(shop, support_bot):
    from policies.services import drafts

    approver_editor = make_user("abe", "editor", "approver")
    draft = drafts.rule_upsert(
        schema=shop, user=approver_editor, rule={"id": "extra", "effect": "deny", "operations": ["mutation.login"]}
    )
    drafts.draft_submit(version=draft, user=approver_editor)

    page = signed_in(approver_editor).get(f"/admin/schemas/shop/policy/{draft.number}/").content.decode()

    assert '<p class="gg-info" id="self-approval-note">' in page
    assert "errornote" not in page


def test_a_policy_file_naming_an_operation_the_schema_lacks_loads_with_a_warning(shop, tmp_path, capsys):
    make_user("author", "editor")
    text = (DEMO_DIR / "shop-policy.yaml").read_text().replace("mutation.refundOrder", "mutation.refundOrderz", 1)
    path = tmp_path / "shop.yaml"
    path.write_text(text)

    call_command("load_policy", str(path), "--author", "author")

    output = capsys.readouterr().out
    assert "Loaded shop policy version 2 as a draft." in output
    assert "warning: Rule " in output and "operation 'mutation.refundOrderz'" in output
