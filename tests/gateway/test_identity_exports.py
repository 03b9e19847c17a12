"""Identity changes queue an export of the targets the agent appears in, debounced: which
changes queue what, against the test database (the export tasks are not run here; a real
worker and moto run them in test_identity_to_gateway.py)."""

import pytest
from django.core.management import call_command
from django.db import transaction

from agents import services as agents
from agents.models import AuditEvent, Principal
from policies.gateway.models import ExportRun, GatewayTarget
from policies.gateway.services import plan_for
from tests.gateway.factories import make_agents, make_policy, make_schema, make_target, policy_document

pytestmark = pytest.mark.django_db

# Never called: the tests stop before an export task runs.
UNUSED_ENDPOINT = "http://127.0.0.1:9"
NEW_ROLE = "arn:aws:iam::123456789012:role/support-bot-v2"


def exported(target, version):
    """A successful export of `version` to `target`, with the plan it would have today."""
    return ExportRun.objects.create(
        target=target,
        policy_version=version,
        status=ExportRun.Status.SUCCEEDED,
        requested_by="test",
        plan=plan_for(target, version),
    )


@pytest.fixture
def shop_exported(db):
    """The shop schema, its agents (support-bot, reports-bot, suspended-bot), its active policy
    exported to shop-prod."""
    schema = make_schema()
    make_agents()
    version = make_policy(schema)
    target = make_target(schema, UNUSED_ENDPOINT)
    exported(target, version)
    return schema, version, target


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Runs an identity change and then what its commit runs (the announcement, and so the
    gateway's receiver); the export tasks the receiver enqueues on commit stay unsent."""

    def run(change):
        with django_capture_on_commit_callbacks() as callbacks:
            result = change()
        for callback in callbacks:
            callback()
        return result

    return run


def principal(name: str) -> Principal:
    return Principal.objects.get(name=name)


def queued(target=None):
    runs = ExportRun.objects.filter(status=ExportRun.Status.QUEUED)
    return list(runs.filter(target=target) if target is not None else runs)


def test_suspending_an_agent_queues_an_audited_export_of_the_active_version(shop_exported, committed):
    _, version, target = shop_exported
    committed(lambda: call_command("suspend_agent", "support-bot"))

    [run] = queued()
    assert (run.target, run.policy_version) == (target, version)
    assert run.trigger == ExportRun.Trigger.IDENTITY and run.requested_by == "system"
    event = AuditEvent.objects.get(action="export.requested", target_id=str(run.pk))
    assert event.actor == "system"
    assert event.details["reason"] == "identity change: support-bot suspended"
    assert event.details["trigger"] == "identity"


def test_several_changes_within_the_window_queue_one_export_per_target(shop_exported, committed):
    schema, version, _ = shop_exported
    other = make_target(schema, UNUSED_ENDPOINT, name="shop-staging", stage_name="staging")
    exported(other, version)

    committed(lambda: agents.principal_suspend(actor="test", principal=principal("support-bot")))
    committed(lambda: agents.principal_suspend(actor="test", principal=principal("reports-bot")))
    committed(lambda: agents.principal_resume(actor="test", principal=principal("support-bot")))

    assert sorted(run.target.name for run in queued()) == ["shop-prod", "shop-staging"]
    assert ExportRun.objects.filter(trigger=ExportRun.Trigger.IDENTITY).count() == 2


def test_a_change_after_the_queued_export_started_queues_another(shop_exported, committed):
    _, _, target = shop_exported
    committed(lambda: agents.principal_suspend(actor="test", principal=principal("support-bot")))
    [first] = queued()
    ExportRun.objects.filter(pk=first.pk).update(status=ExportRun.Status.RUNNING)  # a worker claimed it

    committed(lambda: agents.principal_suspend(actor="test", principal=principal("reports-bot")))

    [second] = queued()
    assert second.pk != first.pk and second.target == target
    reasons = AuditEvent.objects.filter(action="export.requested").values_list("details__reason", flat=True)
    assert list(reasons) == ["identity change: support-bot suspended", "identity change: reports-bot suspended"]


def test_an_export_already_queued_for_the_target_takes_the_change_along(shop_exported, committed):
    schema, _, target = shop_exported
    older = make_policy(schema, policy_document(), activate=False)
    manual = ExportRun.objects.create(target=target, policy_version=older, requested_by="user:alice")

    committed(lambda: agents.principal_suspend(actor="test", principal=principal("support-bot")))

    assert queued() == [manual]  # its plan is built from the identities when it runs


def test_resuming_an_agent_the_rules_match_queues_an_export(shop_exported, committed):
    # suspended-bot is in the support group, which a rule admits; the exported plan left it out.
    _, _, target = shop_exported
    committed(lambda: agents.principal_resume(actor="test", principal=principal("suspended-bot")))

    [run] = queued(target)
    event = AuditEvent.objects.get(action="export.requested", target_id=str(run.pk))
    assert event.details["reason"] == "identity change: suspended-bot resumed"


def test_creating_an_agent_the_rules_match_queues_an_export(shop_exported, committed):
    committed(lambda: agents.principal_create(actor="test", name="support-bot-2", kind="ai", groups=["support"]))

    [run] = queued()
    event = AuditEvent.objects.get(action="export.requested", target_id=str(run.pk))
    assert event.details["reason"] == "identity change: support-bot-2 created"


def test_an_agent_no_rule_matches_and_no_plan_names_appears_in_no_target(shop_exported, committed):
    # A human: the shop rules name support-bot, reports-bot, the support group and AI agents.
    committed(lambda: agents.principal_create(actor="test", name="alice", kind="human"))
    committed(lambda: agents.principal_suspend(actor="test", principal=principal("alice")))

    assert queued() == []


def test_suspending_an_agent_no_exported_plan_names_queues_nothing(shop_exported, committed):
    # Created after the last export (its creation's export is not run here): the gateway has none of it.
    Principal.objects.create(name="late-bot", kind="ai", groups=["support"])

    committed(lambda: agents.principal_suspend(actor="test", principal=principal("late-bot")))

    assert queued() == []


def test_changing_the_iam_role_queues_an_export_naming_the_field(shop_exported, committed):
    committed(lambda: agents.principal_update(actor="test", principal=principal("support-bot"), iam_role_arn=NEW_ROLE))

    [run] = queued()
    event = AuditEvent.objects.get(action="export.requested", target_id=str(run.pk))
    assert event.details["reason"] == "identity change: support-bot changed (iam_role_arn)"


def test_changing_the_groups_queues_an_export_unless_the_agent_is_suspended(shop_exported, committed):
    committed(lambda: agents.principal_update(actor="test", principal=principal("suspended-bot"), groups=["ops"]))
    assert queued() == []  # plans leave suspended agents out, and a suspended agent is matched by none

    committed(lambda: agents.principal_update(actor="test", principal=principal("support-bot"), groups=[]))
    [run] = queued()
    event = AuditEvent.objects.get(action="export.requested", target_id=str(run.pk))
    assert event.details["reason"] == "identity change: support-bot changed (groups)"


def test_changes_no_plan_reads_queue_nothing(shop_exported, committed, django_user_model):
    support = principal("support-bot")
    owner = django_user_model.objects.create_user("owner-alice")
    committed(lambda: agents.principal_update(actor="test", principal=support, attributes={"team": "x"}, owner=owner))
    committed(lambda: agents.principal_update(actor="test", principal=support, oidc_subject="client-support"))
    token, _ = agents.token_issue(actor="test", principal=support)
    committed(lambda: agents.token_revoke(actor="test", token=token))

    assert queued() == []


def test_targets_disabled_never_exported_or_without_an_approved_active_version_get_nothing(shop_exported, committed):
    schema, _, target = shop_exported
    GatewayTarget.objects.filter(pk=target.pk).update(enabled=False)
    make_target(schema, UNUSED_ENDPOINT, name="shop-new", stage_name="new")  # never exported
    other = make_schema("other")
    make_policy(other, policy_document(schema="other"), status="draft")
    other_target = make_target(other, UNUSED_ENDPOINT, name="other-prod")
    exported(other_target, make_policy(other, policy_document(schema="other"), activate=False))  # not active

    committed(lambda: agents.principal_suspend(actor="test", principal=principal("support-bot")))

    assert queued() == []


def test_a_running_export_that_has_not_recorded_its_plan_counts_as_naming_the_agent(shop_exported, committed):
    # It may have read the identities before the change: only another export is sure to see it.
    _, version, target = shop_exported
    Principal.objects.create(name="late-bot", kind="ai", groups=["support"])
    ExportRun.objects.create(target=target, policy_version=version, requested_by="test", status="running")

    committed(lambda: agents.principal_suspend(actor="test", principal=principal("late-bot")))

    assert len(queued(target)) == 1


def test_a_rolled_back_change_queues_nothing(shop_exported, committed):
    def suspend_then_fail():
        with transaction.atomic():
            agents.principal_suspend(actor="test", principal=principal("support-bot"))
            raise RuntimeError("the surrounding work failed")

    with pytest.raises(RuntimeError):
        committed(suspend_then_fail)

    assert queued() == [] and principal("support-bot").status == "active"
