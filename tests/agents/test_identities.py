"""Registering identities from the command line, with validation and audit."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from agents.models import AuditEvent, Principal

pytestmark = pytest.mark.django_db


def test_create_agent_registers_every_attribute():
    get_user_model().objects.create_user("owner-alice")
    call_command(
        "create_agent", "billing-bot", "--kind", "ai", "--owner", "owner-alice",
        "--group", "billing", "--group", "readers", "--attr", "team=billing", "--attr", "env=prod",
        "--iam-role-arn", "arn:aws:iam::123456789012:role/billing-bot", "--oidc-subject", "client-billing",
    )
    principal = Principal.objects.get(name="billing-bot")
    assert principal.kind == "ai"
    assert principal.owner.username == "owner-alice"
    assert principal.groups == ["billing", "readers"]
    assert principal.attributes == {"team": "billing", "env": "prod"}
    assert principal.oidc_subject == "client-billing"
    assert principal.status == "active"
    event = AuditEvent.objects.get(action="principal.created")
    assert event.target_id == str(principal.pk)
    assert event.actor.startswith("cli:")


def test_invalid_iam_role_arn_is_refused_and_nothing_is_saved():
    with pytest.raises(CommandError, match="iam_role_arn"):
        call_command("create_agent", "bad-bot", "--kind", "ai", "--iam-role-arn", "arn:aws:s3:::bucket")
    assert not Principal.objects.exists()
    assert not AuditEvent.objects.exists()


def test_duplicate_name_is_refused():
    call_command("create_agent", "twin", "--kind", "service")
    with pytest.raises(CommandError, match="already exists"):
        call_command("create_agent", "twin", "--kind", "ai")
    assert Principal.objects.count() == 1


def test_unknown_owner_is_refused():
    with pytest.raises(CommandError, match="No user"):
        call_command("create_agent", "orphan", "--kind", "ai", "--owner", "nobody")


def test_suspend_and_resume_are_audited_once_each():
    call_command("create_agent", "flaky-bot", "--kind", "ai")
    call_command("suspend_agent", "flaky-bot")
    call_command("suspend_agent", "flaky-bot")
    call_command("resume_agent", "flaky-bot")
    actions = list(AuditEvent.objects.values_list("action", flat=True))
    assert actions == ["principal.created", "principal.suspended", "principal.resumed"]


def test_commands_name_unknown_agents_clearly():
    with pytest.raises(CommandError, match="NOT_FOUND"):
        call_command("suspend_agent", "ghost")
