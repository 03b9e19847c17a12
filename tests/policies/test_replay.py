"""Replaying recorded checks against a draft: what would flip, grouped by rule and agent, with
nothing recorded or charged, and the approval gate of schemas that require a replay."""

import copy
import json
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from agents.models import AuditEvent
from gqlgov.errors import ApiError
from policies.models import Decision, PolicyReplay
from policies.services import create_draft, draft_submit, policy_review_approve, schema_settings_update
from policies.services.replays import policy_replay
from tests.policies.conftest import check_shop as check
from tests.policies.conftest import users

pytestmark = pytest.mark.django_db

ORDERS = "{ orders(first: 5) { edges { node { id } } } }"
CUSTOMER = '{ customer(id: "1") { name } }'
LOGIN = 'mutation { login(username: "ann", password: "hunter2") }'


@pytest.fixture
def recorded(client, shop, agent_token):
    """Recorded traffic: three order reads, one customer read (all allowed), one login."""
    for query in (ORDERS, ORDERS, ORDERS, CUSTOMER, LOGIN):
        check(client, agent_token, query)
    return shop


def draft_with(active, edit) -> object:
    author, _ = users()
    document = copy.deepcopy(active.document)
    edit(document)
    return create_draft(schema=active.schema, document=document, author=author, details={},
                        schema_version=active.schema_version)


def without_customer_reads(document: dict) -> None:
    rule = next(rule for rule in document["rules"] if rule["id"] == "support-reads-orders")
    rule["operations"] = [op for op in rule["operations"] if op != "query.customer"]


def replay(version):
    return policy_replay(actor="test", version=version, since=timezone.now() - timedelta(days=1))


def test_a_draft_that_drops_an_operation_flips_its_recorded_allows_to_deny_by_rule_and_agent(recorded):
    draft = draft_with(recorded, without_customer_reads)
    summary = replay(draft).summary
    assert summary["flips"] == {"allow_to_deny": 1, "deny_to_allow": 0, "to_pending": 0, "from_pending": 0}
    assert summary["unchanged"] == 4 and summary["replayed"] == 5
    assert summary["by_agent"] == {"support-bot": {"allow_to_deny": 1}}
    assert summary["by_rule"] == {"(no rule)": {"allow_to_deny": 1}}
    example = summary["examples"]["allow_to_deny"][0]
    assert example["document"].startswith("{ customer") and example["reasons"] == ["NO_MATCHING_RULE"]


def test_a_replay_records_no_decision_and_is_audited_with_its_counts(recorded):
    before = Decision.objects.count()
    run = replay(draft_with(recorded, without_customer_reads))
    assert Decision.objects.count() == before
    assert run.status == "done" and run.done == run.total == 5
    event = AuditEvent.objects.get(action="policy.replayed")
    assert event.details["flips"]["allow_to_deny"] == 1 and event.details["replay"] == run.pk


def test_a_check_whose_redacted_value_a_condition_reads_is_undetermined(recorded):
    def condition_on_logins(document: dict) -> None:
        rule = next(rule for rule in document["rules"] if rule["id"] == "payments")
        rule["when"] = {"expression": "request.context.size() >= 0"}

    summary = replay(draft_with(recorded, condition_on_logins)).summary
    assert summary["undetermined"] == 1 and summary["unchanged"] == 4


def test_a_schema_requiring_replays_refuses_approval_until_the_current_text_is_replayed(recorded):
    author, approver = users()
    schema_settings_update(actor="test", schema=recorded.schema, require_replay=True)
    draft = draft_submit(version=draft_with(recorded, without_customer_reads), user=author)
    with pytest.raises(ApiError) as refused:
        policy_review_approve(version=draft, user=approver)
    assert refused.value.code == "REPLAY_REQUIRED" and f"replay_policy shop {draft.number}" in refused.value.message

    run = replay(draft)
    policy_review_approve(version=draft, user=approver)
    approved = AuditEvent.objects.get(action="policy.approved", details__version=draft.number)
    assert approved.details["replay"]["id"] == run.pk and approved.details["replay"]["flips"]["allow_to_deny"] == 1


def test_replay_policy_prints_the_summary_as_json(recorded, capsys):
    draft = draft_with(recorded, without_customer_reads)
    call_command("replay_policy", "shop", str(draft.number), "--since", "1d", "--json")
    printed = json.loads(capsys.readouterr().out)
    assert printed["flips"]["allow_to_deny"] == 1 and printed["policy_version"] == draft.number
    assert PolicyReplay.objects.get().summary == printed


def test_replay_policy_refuses_a_since_it_cannot_read(recorded):
    with pytest.raises(CommandError, match="--since takes a number and a unit"):
        call_command("replay_policy", "shop", "1", "--since", "a week")


def test_configure_schema_sets_the_replay_requirement_and_audits_it(shop, capsys):
    call_command("configure_schema", "shop", "--require-replay")
    assert "require_replay=yes" in capsys.readouterr().out
    shop.schema.refresh_from_db()
    assert shop.schema.require_replay is True
    event = AuditEvent.objects.get(action="schema.settings_changed")
    assert event.details["before"] == {"require_replay": False} and event.details["after"] == {"require_replay": True}


def test_the_review_page_starts_a_replay_and_shows_its_flips(recorded, client, django_capture_on_commit_callbacks):
    from tests.console.conftest import make_user, signed_in

    editor = signed_in(make_user("eddie", "editor"))
    draft = draft_with(recorded, without_customer_reads)
    with django_capture_on_commit_callbacks(execute=True):  # eager Celery: the task runs as the request commits
        response = editor.post(f"/admin/schemas/shop/policy/{draft.number}/replay/", {"days": "1"})
    assert response.status_code == 302
    run = PolicyReplay.objects.get()
    assert run.status == "done"
    status = editor.get(f"/admin/replays/{run.pk}/status/").json()
    assert status["finished"] is True and status["done"] == status["total"] == 5
    html = editor.get(f"/admin/schemas/shop/policy/{draft.number}/").content.decode()
    assert 'data-flips="1,0,0,0"' in html and "schema v1" in html


def test_a_viewer_may_not_start_a_replay(recorded):
    from tests.console.conftest import make_user, signed_in

    draft = draft_with(recorded, without_customer_reads)
    viewer = signed_in(make_user("vera", "viewer"))
    assert viewer.post(f"/admin/schemas/shop/policy/{draft.number}/replay/").status_code == 403
    assert not PolicyReplay.objects.exists()
