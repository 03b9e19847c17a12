"""The review page compares by meaning, with values as YAML, and a decided version with the one before it."""

import copy

import pytest

from policies.services import drafts
from tests.console.conftest import make_user, signed_in

pytestmark = pytest.mark.django_db

RULE_ID = "support-reads-orders"


def edited(shop, editor, change) -> object:
    rule = copy.deepcopy(next(r for r in shop.active_policy.document["rules"] if r["id"] == RULE_ID))
    change(rule)
    return drafts.rule_upsert(schema=shop, user=editor, rule=rule, replaces=RULE_ID)


def test_a_reorder_of_denied_fields_and_operations_is_not_a_change(shop, editor, viewer):
    def reorder(rule):
        rule["fields"]["deny"].reverse()
        rule["operations"].reverse()

    draft = edited(shop, editor, reorder)
    text = signed_in(viewer).get(f"/admin/schemas/shop/policy/{draft.number}/").content.decode()
    assert "(0 added, 0 changed, 0 removed, 3 unchanged)" in text


def test_a_changed_rule_shows_entries_gained_and_lost_and_values_as_yaml(shop, editor, viewer):
    def change(rule):
        rule["fields"]["deny"] = ["Customer.ssn", "Customer.email"]
        rule["limits"] = {"max_depth": 5}

    draft = edited(shop, editor, change)
    text = signed_in(viewer).get(f"/admin/schemas/shop/policy/{draft.number}/").content.decode()
    assert "Changes against active" in text and "1 changed" in text
    assert '<tr data-key="fields.deny">' in text
    assert "<code>Customer.email</code>" in text and "<code>Customer.cardNumber</code>" in text
    assert '<tr data-key="limits.max_cost">' in text  # dropped: 300 -> nothing
    assert "{&#x27;" not in text and "\\n" not in text  # no Python reprs, no literal \n


def test_an_approved_version_compares_with_the_approved_version_before_it(shop, editor, viewer):
    draft = edited(shop, editor, lambda rule: rule["limits"].update(max_depth=4))
    drafts.draft_submit(version=draft, user=editor)
    drafts.policy_review_approve(version=draft, user=make_user("other-approver", "approver"))
    client = signed_in(viewer)
    text = client.get(f"/admin/schemas/shop/policy/{draft.number}/").content.decode()
    assert "Changes against the approved version before it," in text and ">v1</a>" in text
    assert "(0 added, 1 changed, 0 removed, 2 unchanged)" in text
    assert 'id="other-changes"' not in text  # the defaults are the same: no "— → {…}"
    first = client.get("/admin/schemas/shop/policy/1/").content.decode()
    assert "the first approved version: nothing before it to compare with" in first and "3 added" not in first
