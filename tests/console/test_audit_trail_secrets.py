"""Viewers read the audit trail without token details; editors and admins see token prefixes."""

import pytest

from agents.models import ApiToken, AuditEvent
from agents.services import token_issue, token_revoke, token_rotate
from tests.console.conftest import signed_in

pytestmark = pytest.mark.django_db

TRAIL = "/admin/audit/"


@pytest.fixture
def token_events(support_bot):
    """Issued, rotated and revoked: the events that name token prefixes; their prefixes."""
    first, _ = token_issue(actor="test", principal=support_bot)
    second, _ = token_rotate(actor="test", token=first, grace_seconds=60)
    token_revoke(actor="test", token=ApiToken.objects.get(pk=second.pk))
    return [first.prefix, second.prefix]


def test_a_viewer_sees_no_token_prefix_in_the_trail_or_an_event(token_events, viewer):
    client = signed_in(viewer)
    pages = [client.get(TRAIL)] + [
        client.get(f"{TRAIL}{event.pk}/") for event in AuditEvent.objects.filter(action__startswith="token.")
    ]
    assert [page.status_code for page in pages] == [200] * 4
    for page in pages:
        text = page.content.decode()
        assert "gqg_[hidden]" in text
        for prefix in token_events:
            assert prefix not in text and prefix.removeprefix("gqg_") not in text


def test_an_editor_sees_the_token_prefixes_in_the_trail(token_events, editor):
    page = signed_in(editor).get(TRAIL).content.decode()
    assert all(prefix in page for prefix in token_events)
