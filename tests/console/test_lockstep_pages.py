"""A schema version awaiting review, on its page: what it adds and the rules that reach it, the
stale references it causes, and the one-click draft for it with a fix per stale reference."""

import pytest

from agents.models import AuditEvent
from policies.services import schema_register
from tests.console.conftest import DEMO_DIR, signed_in

pytestmark = pytest.mark.django_db

RENAMED = (DEMO_DIR / "shop.graphql").read_text().replace("  ssn: String", "  socialSecurityNumber: String")


@pytest.fixture
def renamed(shop):
    version, _ = schema_register(actor="test", name="shop", sdl=RENAMED)
    return version


def page(client, number: int) -> str:
    response = client.get(f"/admin/schemas/shop/versions/{number}/")
    assert response.status_code == 200
    return response.content.decode()


def test_a_new_version_is_shown_awaiting_review_with_its_additions_and_stale_references(renamed, viewer):
    html = page(signed_in(viewer), 2)
    assert 'data-lockstep="awaiting_review"' in html
    assert "Customer.socialSecurityNumber" in html and 'data-stale="Customer.ssn"' in html
    assert "draft-for-version" not in html  # a viewer may not create drafts
    assert 'data-lockstep="enforced"' in page(signed_in(viewer), 1)


def test_an_editor_creates_the_draft_for_the_version_and_maps_the_stale_reference_to_its_rename(renamed, editor):
    client = signed_in(editor)
    response = client.post("/admin/schemas/shop/versions/2/draft/")
    assert response.status_code == 302
    html = page(client, 2)
    assert 'data-fix="rename"' in html and "Map to Customer.socialSecurityNumber" in html

    client.post("/admin/schemas/shop/versions/2/fix/", {
        "rule": _rule_denying_ssn(renamed.schema), "reference": "Customer.ssn",
        "replacement": "Customer.socialSecurityNumber"})
    assert 'data-stale="Customer.ssn"' not in page(client, 2)
    assert AuditEvent.objects.filter(action="policy.stale_reference_fixed").count() == 1


def test_a_viewer_cannot_create_the_draft(renamed, viewer):
    assert signed_in(viewer).post("/admin/schemas/shop/versions/2/draft/").status_code == 403


def _rule_denying_ssn(schema) -> str:
    return next(rule["id"] for rule in schema.active_policy.document["rules"]
                if "Customer.ssn" in (rule.get("fields") or {}).get("deny", []))
