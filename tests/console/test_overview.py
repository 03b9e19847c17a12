"""The overview: every deny reason counted, and a guided first rule while nothing is active."""

import pytest
from django.utils import timezone

from policies.models import Decision
from policies.services import drafts, schema_register
from tests.console.conftest import DEMO_DIR, signed_in

pytestmark = pytest.mark.django_db
EIGHT_CODES = ["DEPTH_LIMIT", "ALIAS_LIMIT", "ROOT_FIELD_LIMIT", "TOKEN_LIMIT", "DIRECTIVE_LIMIT", "COST_LIMIT",
               "FORBIDDEN_FIELD", "NO_MATCHING_RULE"]


def deny(code: str) -> Decision:
    return Decision.objects.create(created_at=timezone.now(), agent_name="support-bot", decision="deny",
                                   reasons=[{"code": code, "message": "-"}])


def test_top_deny_reasons_lists_all_eight_reasons_not_six(shop, viewer):
    for position, code in enumerate(EIGHT_CODES):
        for _ in range(len(EIGHT_CODES) - position):
            deny(code)

    page = signed_in(viewer).get("/admin/")

    assert [code for code, _count in page.context["deny_reasons"]] == EIGHT_CODES
    assert all(f"reason={code}&amp;since=24h" in page.content.decode() for code in EIGHT_CODES)


def test_an_empty_installation_shows_the_first_rule_guide_starting_with_registering_a_schema(editor):
    page = signed_in(editor).get("/admin/")

    steps = page.context["guide"]
    assert [(step["title"], step["done"]) for step in steps] == [
        ("Register a schema", False), ("Add a first rule", False), ("Try it in the simulator", False),
        ("Submit it for review", False),
    ]
    assert 'id="first-rule-guide"' in page.content.decode()
    assert steps[0]["url"] == "/admin/schemas/register/"


def test_the_guide_marks_the_schema_and_the_first_rule_done_and_links_the_next_steps(editor):
    schema_register(actor="test", name="shop", sdl=(DEMO_DIR / "shop.graphql").read_text())
    from policies.models import Schema

    shop = Schema.objects.get(name="shop")
    draft = drafts.rule_upsert(schema=shop, user=editor,
                               rule={"id": "reads", "effect": "allow", "operations": ["query.orders"]})

    steps = signed_in(editor).get("/admin/").context["guide"]

    assert [step["done"] for step in steps] == [True, True, False, False]
    assert steps[1]["url"].startswith("/admin/schemas/shop/operations/") and steps[1]["url"].endswith("/rules/add/")
    assert steps[2]["url"] == "/admin/simulator/?schema=shop&version=draft"
    assert steps[3]["url"] == f"/admin/schemas/shop/policy/{draft.number}/"


def test_the_guide_is_gone_once_a_policy_is_active(shop, viewer):
    page = signed_in(viewer).get("/admin/")

    assert page.context["guide"] is None
    assert 'id="first-rule-guide"' not in page.content.decode()
