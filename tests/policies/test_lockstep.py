"""Lockstep: a policy version is approved against one schema version and checks are decided
against it; a newly registered schema version changes nothing enforced until a reviewed policy
version approved for it is active."""


import pytest

from agents.models import AuditEvent
from gqlgov.errors import ApiError
from policies.services import (
    draft_for_schema_version,
    draft_submit,
    policy_review_approve,
    rule_upsert,
    schema_register,
    schema_settings_update,
)
from tests.conftest import bearer, issue_token_for, make_principal
from tests.policies.conftest import SHOP_SDL, users
from tests.policies.conftest import check_shop as check

pytestmark = pytest.mark.django_db

RENAMED_SDL = SHOP_SDL.replace("  ssn: String", "  socialSecurityNumber: String")
NEW_NAME = '{ customer(id: "1") { name socialSecurityNumber } }'
OLD_NAME = '{ customer(id: "1") { name ssn } }'


def codes(body: dict) -> list[str]:
    return [reason["code"] for reason in body["reasons"]]


@pytest.fixture
def staff_token(db):
    return issue_token_for(make_principal("ci-bot", "service", groups=["gqlgov-admins"]))


@pytest.fixture
def renamed(shop):
    """The shop schema with `Customer.ssn` renamed in a second version, registered after the policy."""
    version, created = schema_register(actor="test", name="shop", sdl=RENAMED_SDL)
    assert created and version.number == 2
    return version


def test_the_active_policy_is_pinned_to_the_schema_version_it_was_approved_against(shop):
    assert shop.schema_version.number == 1
    assert AuditEvent.objects.get(action="policy.draft_created").details["schema_version"] == 1


def test_a_renamed_denied_field_stays_refused_under_its_new_name_until_a_reviewed_version_is_approved(
    client, renamed, agent_token
):
    pending = check(client, agent_token, NEW_NAME)
    assert pending["decision"] == "deny"
    assert codes(pending) == ["SCHEMA_VERSION_PENDING"]
    assert "v2" in pending["reasons"][0]["hint"] and pending["policy_version"] == 1

    old = check(client, agent_token, OLD_NAME)
    assert old["decision"] == "deny" and "SCHEMA_VERSION_PENDING" not in codes(old)


def test_a_document_valid_under_the_pinned_version_is_decided_as_before(client, renamed, agent_token):
    assert check(client, agent_token, '{ customer(id: "1") { name } }')["decision"] == "allow"


def test_the_schema_api_shows_the_new_version_awaiting_review(client, renamed, staff_token):
    body = client.get("/api/v1/schemas/shop", **bearer(staff_token)).json()
    assert body["version"] == 2
    assert body["enforced_version"] == 1
    assert body["awaiting_review"] is True
    added = {entry["field"]: entry["reached_by"] for entry in body["added"] if "field" in entry}
    assert "support-reads-orders" in added["Customer.socialSecurityNumber"]


def test_a_draft_for_the_new_schema_version_lists_each_stale_reference_with_its_rename(renamed):
    author, _ = users()
    draft, fixes = draft_for_schema_version(schema=renamed.schema, number=2, user=author)
    assert draft.schema_version == renamed
    assert [(fix.stale.reference, fix.blocking, fix.renames) for fix in fixes] == [
        ("Customer.ssn", True, ("Customer.socialSecurityNumber",))
    ]
    assert AuditEvent.objects.get(action="policy.draft_repinned").details["schema_version"] == 2


def test_a_draft_with_stale_references_cannot_be_submitted_and_the_error_names_the_fix(renamed):
    author, _ = users()
    draft, _ = draft_for_schema_version(schema=renamed.schema, number=2, user=author)
    with pytest.raises(ApiError) as refused:
        draft_submit(version=draft, user=author)
    assert refused.value.code == "POLICY_STALE" and refused.value.status == 409
    assert "'Customer.ssn'" in refused.value.message and "'Customer.socialSecurityNumber'" in refused.value.message
    assert refused.value.details["stale"][0]["renames"] == ["Customer.socialSecurityNumber"]


def test_approving_the_fixed_draft_moves_enforcement_to_the_new_schema_version(client, renamed, agent_token):
    author, approver = users()
    draft, _ = draft_for_schema_version(schema=renamed.schema, number=2, user=author)
    rule = next(rule for rule in draft.document["rules"] if rule["id"] == "support-reads-orders")
    rule["fields"]["deny"] = ["Customer.socialSecurityNumber", "Customer.cardNumber"]
    draft = rule_upsert(schema=renamed.schema, user=author, rule=rule, replaces=rule["id"])
    policy_review_approve(version=draft_submit(version=draft, user=author), user=approver)

    body = check(client, agent_token, NEW_NAME)
    assert body["decision"] == "deny" and body["policy_version"] == draft.number
    assert "SCHEMA_VERSION_PENDING" not in codes(body)
    assert codes(check(client, agent_token, OLD_NAME)) != ["SCHEMA_VERSION_PENDING"]


def test_approve_policy_refuses_a_policy_file_naming_a_removed_field_with_policy_stale(renamed, tmp_path):
    from django.core.management import CommandError, call_command

    from tests.policies.conftest import SHOP_POLICY

    policy = tmp_path / "shop.yaml"
    policy.write_text(SHOP_POLICY)
    call_command("load_policy", str(policy), "--author", "author")
    with pytest.raises(CommandError, match=r"POLICY_STALE: .*'Customer.ssn'.*'Customer.socialSecurityNumber'"):
        call_command("approve_policy", "shop", "2", "--approver", "approver")


ADDITIVE_SDL = SHOP_SDL.replace("  node(id: ID!): Node\n}", "  node(id: ID!): Node\n  coupons: [String!]\n}")
NEW_CUSTOMER_FIELD_SDL = SHOP_SDL.replace("  cardNumber: String\n", "  cardNumber: String\n  taxId: String\n")


def test_without_the_opt_in_even_an_additive_version_waits_for_review(shop):
    version, _ = schema_register(actor="test", name="shop", sdl=ADDITIVE_SDL)
    version.schema.refresh_from_db()
    assert version.schema.active_policy.schema_version.number == 1


def test_auto_additive_lets_a_purely_additive_version_take_effect_and_audits_it(shop):
    schema_settings_update(actor="test", schema=shop.schema, schema_changes="auto_additive")
    version, _ = schema_register(actor="test", name="shop", sdl=ADDITIVE_SDL)
    schema = version.schema
    schema.refresh_from_db()
    assert schema.active_policy.schema_version == version
    assert schema.active_policy.document == shop.document and schema.active_policy.number == 2
    event = AuditEvent.objects.get(action="policy.auto_additive")
    assert event.details["from_version"] == 1 and event.details["schema_version"] == 2
    assert AuditEvent.objects.get(action="schema.settings_changed").details == {
        "schema": "shop", "before": {"schema_changes": "review"}, "after": {"schema_changes": "auto_additive"}}


@pytest.mark.parametrize(("sdl", "problem"), [
    pytest.param(RENAMED_SDL, "Customer.ssn was removed", id="a-removal"),
    pytest.param(NEW_CUSTOMER_FIELD_SDL, "new field Customer.taxId is reachable from rule support-reads-orders's",
                 id="a-field-under-a-denying-rule"),
])
def test_auto_additive_still_sends_a_version_to_review_when_it_removes_or_adds_under_a_field_denying_rule(
    shop, sdl, problem
):
    schema_settings_update(actor="test", schema=shop.schema, schema_changes="auto_additive")
    version, _ = schema_register(actor="test", name="shop", sdl=sdl)
    version.schema.refresh_from_db()
    assert version.schema.active_policy == shop
    refused = AuditEvent.objects.get(action="schema.review_required")
    assert any(problem in line for line in refused.details["not_additive"]), refused.details


def test_an_unknown_schema_changes_mode_is_refused(shop):
    with pytest.raises(ApiError, match="schema_changes must be one of review, auto_additive"):
        schema_settings_update(actor="test", schema=shop.schema, schema_changes="sometimes")
