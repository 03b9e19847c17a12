"""The admin's local password login locks a username and address out after repeated failures (django-axes)."""

import time
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from agents.models import AuditEvent
from agents.services import principal_suspend
from tests.conftest import make_principal
from tests.support.oidc_provider import login_through_provider
from tests.support.settings_probe import settings_value

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/"
RIGHT, WRONG = "correct-horse-battery", "wrong-password"


@pytest.fixture(autouse=True)
def _fast_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def access_attempts():
    """django-axes' rows of failed logins (imported here: the app is only installed with the lockout)."""
    from axes.models import AccessAttempt

    return AccessAttempt.objects.all()


def sign_in(client: Client, password: str, username: str = "alice", address: str = "203.0.113.7"):
    return client.post(LOGIN, {"username": username, "password": password, "next": "/admin/"}, REMOTE_ADDR=address)


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_forty_wrong_passwords_then_the_right_one_does_not_sign_in_and_the_lockout_is_audited(client, staff_user):
    answers = [sign_in(client, WRONG).status_code for _ in range(40)]
    locked = sign_in(client, RIGHT)

    assert answers[:4] == [200] * 4 and set(answers[4:]) == {429}  # the fifth failure locks
    assert locked.status_code == 429 and not signed_in(client)
    assert "Too many failed sign-ins" in locked.content.decode()
    [event] = AuditEvent.objects.filter(action="login.locked_out")
    assert (event.actor, event.target_type, event.target_id) == ("client:203.0.113.7", "auth.user", "alice")
    assert event.details == {
        "username": "alice",
        "ip_address": "203.0.113.7",
        "failures": 5,
        "cooloff_seconds": 900,
    }
    for attempt in access_attempts():
        assert WRONG not in attempt.post_data and RIGHT not in attempt.post_data


def test_the_lockout_holds_a_username_from_one_address_only(client, staff_user):
    get_user_model().objects.create_user("bob", password=RIGHT, is_staff=True)
    for _ in range(5):
        sign_in(client, WRONG)
    assert sign_in(Client(), RIGHT, address="198.51.100.20").status_code == 302  # same user, another address
    assert sign_in(Client(), RIGHT, username="bob").status_code == 302  # same address, another user


def test_a_success_before_the_limit_resets_the_count(client, staff_user):
    for _ in range(4):
        sign_in(client, WRONG)
    assert sign_in(client, RIGHT).status_code == 302
    client.logout()
    for _ in range(4):
        assert sign_in(client, WRONG).status_code == 200
    assert sign_in(client, RIGHT).status_code == 302


def test_the_right_password_signs_in_again_after_the_cool_off(client, staff_user, settings):
    settings.AXES_COOLOFF_TIME = timedelta(seconds=1)
    for _ in range(5):
        sign_in(client, WRONG)
    assert sign_in(client, RIGHT).status_code == 429
    time.sleep(1.2)
    assert sign_in(client, RIGHT).status_code == 302 and signed_in(client)


def test_sso_logins_are_neither_counted_nor_locked_out(client, staff_user, oidc_settings, oidc_provider):
    principal_suspend(actor="test", principal=make_principal("gone", "human", oidc_subject="gone-sub"))
    oidc_provider.next_user = oidc_provider.next_user.__class__(sub="gone-sub")
    for _ in range(6):
        login_through_provider(Client())  # refused: a suspended principal
    assert not access_attempts().exists()
    for _ in range(5):
        sign_in(client, WRONG, address="127.0.0.1")  # the address the SSO callback comes from
    oidc_provider.next_user = oidc_provider.next_user.__class__(sub="fresh-sub", preferred_username="fresh")
    browser = Client()
    assert login_through_provider(browser).status_code == 302 and signed_in(browser)


def test_the_test_clients_login_without_a_request_still_works(staff_user):
    client = Client()
    assert client.login(username="alice", password=RIGHT)
    assert not Client().login(username="alice", password=WRONG)


def test_the_limit_and_cool_off_come_from_the_environment():
    environment = {"GQLGOV_LOGIN_FAILURE_LIMIT": "3", "GQLGOV_LOGIN_COOLOFF_SECONDS": "60"}
    values = settings_value(
        environment,
        "[settings.AXES_FAILURE_LIMIT, settings.AXES_COOLOFF_TIME.total_seconds(), settings.AXES_LOCKOUT_PARAMETERS]",
    )
    assert values == [3, 60.0, [["username", "ip_address"]]]
