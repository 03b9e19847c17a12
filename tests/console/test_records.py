"""The console's record pages: agents, API tokens, decisions and the audit trail, with filters."""

import json
import uuid

import pytest

from agents.models import AuditEvent
from agents.services import principal_create, token_issue, token_revoke
from policies.models import Decision
from tests.conftest import bearer, issue_token_for
from tests.console.conftest import make_user, signed_in

pytestmark = pytest.mark.django_db

ORDERS = "query Orders { orders(first: 2) { edges { node { id } } } }"
SECRET = '{ customer(id: "1") { name ssn } }'


def check(client, token: str, query: str) -> dict:
    body = json.dumps({"schema": "shop", "query": query})
    return client.post("/api/v1/check", data=body, content_type="application/json", **bearer(token)).json()


@pytest.fixture
def checked(shop, support_bot, client):
    """Three checks through the real API: an allow by demo-agent, a deny of demo-agent's field, a
    deny of support-bot (no rule admits it for the mutation)."""
    demo = principal_create(actor="test", name="demo-agent", kind="ai", groups=["support"])
    allowed = check(client, issue_token_for(demo), ORDERS)
    field = check(client, issue_token_for(demo), SECRET)
    other = check(client, issue_token_for(support_bot), 'mutation { deleteOrder(id: "1") { id } }')
    assert [allowed["decision"], field["decision"], other["decision"]] == ["allow", "deny", "deny"]
    return {"allowed": allowed, "field": field, "other": other}


def rows(response, marker: str) -> int:
    return response.content.decode().count(marker)


def test_decisions_filter_by_agent_decision_reason_schema_and_time(checked, viewer):
    client = signed_in(viewer)
    page = "/admin/decisions/"
    assert rows(client.get(page), "<tr data-decision=") == 3
    assert rows(client.get(page, {"agent_name": "demo-agent"}), "<tr data-decision=") == 2
    assert rows(client.get(page, {"agent_name": "demo-agent", "decision": "deny"}), "<tr data-decision=") == 1
    assert rows(client.get(page, {"reason": "FORBIDDEN_FIELD"}), "<tr data-decision=") == 1
    assert rows(client.get(page, {"schema_name": "shop", "since": "1h"}), "<tr data-decision=") == 3
    assert rows(client.get(page, {"start": "2000-01-01T00:00", "end": "2000-01-02T00:00"}), "<tr data-decision=") == 0


def test_the_overviews_deny_reasons_lead_to_the_filtered_decisions(checked, viewer):
    client = signed_in(viewer)
    link = "/admin/decisions/?decision=deny&amp;reason=FORBIDDEN_FIELD&amp;since=24h"
    assert link in client.get("/admin/").content.decode()
    assert rows(client.get(link.replace("&amp;", "&")), "<tr data-decision=") == 1


def test_an_agent_without_decisions_gets_an_empty_list_not_everyones(checked, viewer):
    response = signed_in(viewer).get("/admin/decisions/", {"agent_name": "quiet-bot"})
    assert rows(response, "<tr data-decision=") == 0 and "Some filters were ignored" not in response.content.decode()


def test_a_bad_filter_narrows_nothing_and_says_so(checked, viewer):
    response = signed_in(viewer).get("/admin/decisions/", {"reason": "NOT_A_CODE", "start": "yesterday"})
    assert response.status_code == 200
    assert rows(response, "<tr data-decision=") == 3
    assert "Some filters were ignored" in response.content.decode()


def test_every_filter_control_has_a_label(checked, viewer):
    text = signed_in(viewer).get("/admin/decisions/").content.decode()
    for name in ("agent_name", "schema_name", "decision", "reason", "since", "start", "end"):
        assert f'<label for="id_{name}">' in text, name


def test_a_decision_page_prints_the_document_as_graphql_and_its_reasons_as_a_table(checked, viewer):
    decision_id = checked["field"]["decision_id"]
    text = signed_in(viewer).get(f"/admin/decisions/{decision_id}/").content.decode()
    assert "{\n  customer(id: " in text and "\n    ssn\n" in text  # printed by graphql-core, one field a line
    assert '<tr data-reason="FORBIDDEN_FIELD">' in text
    assert "{&#x27;" not in text and "{'" not in text  # no Python dict reprs


def test_an_unknown_decision_is_404(checked, viewer):
    assert signed_in(viewer).get(f"/admin/decisions/{uuid.uuid4()}/").status_code == 404


def test_the_old_decision_urls_lead_to_the_console_pages_with_their_filters(checked, viewer):
    client = signed_in(viewer)
    response = client.get("/admin/policies/decision/", {"decision__exact": "deny", "agent_name": "demo-agent"})
    assert response.status_code == 302 and response["Location"].startswith("/admin/decisions/?")
    assert "decision=deny" in response["Location"] and "agent_name=demo-agent" in response["Location"]
    one = Decision.objects.first()
    assert client.get(f"/admin/policies/decision/{one.pk}/change/")["Location"] == f"/admin/decisions/{one.pk}/"


def test_the_audit_trail_is_newest_first_with_its_chain_verified(support_bot, viewer):
    token_issue(actor="user:eddie", principal=support_bot)
    text = signed_in(viewer).get("/admin/audit/").content.decode()
    newest, oldest = AuditEvent.objects.order_by("-id")[0], AuditEvent.objects.order_by("id")[0]
    assert text.index(f'data-event="{newest.pk}"') < text.index(f'data-event="{oldest.pk}"')
    assert "Chain verified" in text


def test_the_audit_trail_filters_by_actor_action_object_and_time(support_bot, viewer):
    token, _ = token_issue(actor="user:eddie", principal=support_bot)
    token_revoke(actor="user:ada", token=token)
    client = signed_in(viewer)
    page = "/admin/audit/"
    assert rows(client.get(page, {"actor": "user:ada"}), "<tr data-event=") == 1
    assert rows(client.get(page, {"action": "token."}), "<tr data-event=") == 2  # the family
    assert rows(client.get(page, {"action": "token.issued"}), "<tr data-event=") == 1
    principal_create(actor="test", name="other-bot", kind="ai")
    by_object = {"target_type": "agents.principal", "target_id": str(support_bot.pk)}
    assert rows(client.get(page, by_object), "<tr data-event=") == 3  # created, token issued, token revoked
    assert rows(client.get(page, {"since": "1h"}), "<tr data-event=") == AuditEvent.objects.count()
    assert rows(client.get(page, {"end": "2000-01-01T00:00"}), "<tr data-event=") == 0


def test_the_trail_links_each_object_to_its_console_page(checked, viewer):
    text = signed_in(viewer).get("/admin/audit/").content.decode()
    assert 'href="/admin/agent/support-bot/"' in text and 'href="/admin/schemas/shop/policy/1/"' in text


def test_a_tampered_event_shows_the_chain_broken_at_that_event(support_bot, viewer):
    event = AuditEvent.objects.get(action="principal.created")
    AuditEvent.objects.filter(pk=event.pk).update(details={"name": "someone-else"})
    text = signed_in(viewer).get("/admin/audit/").content.decode()
    assert "Chain broken" in text and f"Event #{event.pk}</a>: its content was altered" in text


def test_an_audit_event_page_shows_its_details_as_yaml(support_bot, viewer):
    event = AuditEvent.objects.get(action="principal.created")
    text = signed_in(viewer).get(f"/admin/audit/{event.pk}/").content.decode()
    assert "name: support-bot" in text and event.hash in text
    assert signed_in(viewer).get("/admin/audit/999999/").status_code == 404


def test_the_agent_list_names_its_columns_properly_and_filters(support_bot, viewer):
    principal_create(actor="test", name="billing-svc", kind="service", oidc_subject="sub-billing")
    client = signed_in(viewer)
    text = client.get("/admin/agents/").content.decode()
    assert "IAM role ARN" in text and "OIDC subject" in text and "Iam role arn" not in text
    assert 'data-agent="support-bot"' in text and 'data-agent="billing-svc"' in text
    assert rows(client.get("/admin/agents/", {"kind": "service"}), "<tr data-agent=") == 1
    assert rows(client.get("/admin/agents/", {"q": "sub-bill"}), "<tr data-agent=") == 1
    assert client.get("/admin/agents/principal/")["Location"] == "/admin/agents/"


def test_the_agent_form_labels_its_identity_fields(editor):
    text = signed_in(editor).get("/admin/agents/principal/add/").content.decode()
    assert "IAM role ARN" in text and "OIDC subject" in text and "Add agent" in text
    assert "Iam role arn" not in text and "Oidc subject" not in text


def test_the_token_list_is_for_those_who_may_see_token_details(support_bot, viewer, approver, editor, admin_user):
    first, _ = token_issue(actor="test", principal=support_bot)
    second, _ = token_issue(actor="test", principal=support_bot)
    token_revoke(actor="test", token=second)
    for user in (viewer, approver):
        assert signed_in(user).get("/admin/tokens/").status_code == 403
    for user in (editor, admin_user):
        text = signed_in(user).get("/admin/tokens/").content.decode()
        assert first.prefix in text and second.prefix in text
    revoked = signed_in(editor).get("/admin/tokens/", {"state": "revoked"}).content.decode()
    assert second.prefix in revoked and first.prefix not in revoked
    assert signed_in(editor).get(f"/admin/agents/apitoken/{first.pk}/change/")["Location"] == "/admin/agent/support-bot/"
    assert signed_in(viewer).get(f"/admin/agents/apitoken/{first.pk}/change/").status_code == 403


def test_people_without_a_role_do_not_reach_the_record_pages(checked):
    client = signed_in(make_user("olga", is_staff=False))
    for path in ("/admin/agents/", "/admin/tokens/", "/admin/decisions/", "/admin/audit/"):
        response = client.get(path)
        assert response.status_code == 302 and "/admin/login/" in response["Location"], path
