"""Every write to a principal is announced (agents.signals.identity_changed) after it commits,
with what it was and what it is, for apps agents does not know (the gateway export listens)."""

import pytest
from django.db import transaction

from agents import services
from agents.models import Principal
from agents.signals import identity_changed

pytestmark = pytest.mark.django_db

ROLE = "arn:aws:iam::123456789012:role/support-bot"


@pytest.fixture
def announcements(django_capture_on_commit_callbacks):
    """Runs a change and its commit's callbacks; returns the announcements they sent."""
    heard: list[dict] = []

    def listen(sender, **kwargs):
        heard.append({key: kwargs[key] for key in ("name", "change", "before", "after")})

    identity_changed.connect(listen, dispatch_uid="test_announcements")

    def run(change):
        heard.clear()
        with django_capture_on_commit_callbacks(execute=True):
            change()
        return list(heard)

    run.heard = heard  # type: ignore[attr-defined]  # what the last change announced, even if it raised
    yield run
    identity_changed.disconnect(dispatch_uid="test_announcements")


def test_creating_suspending_resuming_and_changing_an_agent_are_announced(announcements):
    [created] = announcements(lambda: services.principal_create(actor="test", name="support-bot", kind="ai"))
    assert created["change"] == "created" and created["before"] is None
    assert created["after"]["name"] == "support-bot" and created["after"]["status"] == "active"

    bot = Principal.objects.get(name="support-bot")
    [suspended] = announcements(lambda: services.principal_suspend(actor="test", principal=bot))
    assert (suspended["before"]["status"], suspended["after"]["status"]) == ("active", "suspended")
    assert announcements(lambda: services.principal_suspend(actor="test", principal=bot)) == []  # no change

    [resumed] = announcements(lambda: services.principal_resume(actor="test", principal=bot))
    assert (resumed["change"], resumed["after"]["status"]) == ("resumed", "active")

    [changed] = announcements(lambda: services.principal_update(actor="test", principal=bot, iam_role_arn=ROLE))
    assert changed["change"] == "changed" and changed["name"] == "support-bot"
    assert (changed["before"]["iam_role_arn"], changed["after"]["iam_role_arn"]) == ("", ROLE)
    assert announcements(lambda: services.principal_update(actor="test", principal=bot, iam_role_arn=ROLE)) == []


def test_a_change_is_announced_after_its_commit_and_a_rolled_back_one_never(announcements):
    bot = services.principal_create(actor="test", name="support-bot", kind="ai")
    heard_before_commit: list = []

    def suspend_and_listen():
        with transaction.atomic():
            services.principal_suspend(actor="test", principal=bot)
            heard_before_commit.extend(announcements.heard)

    assert [a["change"] for a in announcements(suspend_and_listen)] == ["suspended"]
    assert heard_before_commit == []

    def resume_then_fail():
        with transaction.atomic():
            services.principal_resume(actor="test", principal=bot)
            raise RuntimeError("the surrounding work failed")

    with pytest.raises(RuntimeError):
        announcements(resume_then_fail)
    assert announcements.heard == []
    assert Principal.objects.get(pk=bot.pk).status == "suspended"


def test_token_writes_are_not_announced(announcements):
    bot = services.principal_create(actor="test", name="support-bot", kind="ai")
    token, _ = services.token_issue(actor="test", principal=bot)

    assert announcements(lambda: services.token_rotate(actor="test", token=token)) == []
    assert announcements(lambda: services.token_revoke(actor="test", token=token)) == []
