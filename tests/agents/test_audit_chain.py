"""The audit trail is hash-chained: any altered or removed event is detected."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from agents.models import AuditEvent
from tests.conftest import make_principal

pytestmark = pytest.mark.django_db


@pytest.fixture
def trail():
    for name in ("a-bot", "b-bot", "c-bot"):
        make_principal(name)
    return list(AuditEvent.objects.order_by("id"))


def test_intact_chain_verifies(trail, capsys):
    call_command("verify_audit")
    assert "3 events" in capsys.readouterr().out


def test_each_event_links_to_its_predecessor(trail):
    assert trail[1].prev_hash == trail[0].hash
    assert trail[2].prev_hash == trail[1].hash


def test_altered_event_is_named(trail):
    AuditEvent.objects.filter(pk=trail[1].pk).update(details={"name": "forged"})
    with pytest.raises(CommandError, match=f"event {trail[1].pk}: its content was altered"):
        call_command("verify_audit")


def test_removed_event_is_detected_at_its_successor(trail):
    AuditEvent.objects.filter(pk=trail[1].pk).delete()
    with pytest.raises(CommandError, match=f"event {trail[2].pk}"):
        call_command("verify_audit")


def test_removed_newest_event_is_detected(trail):
    AuditEvent.objects.filter(pk=trail[2].pk).delete()
    with pytest.raises(CommandError, match="newest events were removed"):
        call_command("verify_audit")
