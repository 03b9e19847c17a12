"""Human admin login through mozilla-django-oidc against a real OIDC provider on loopback."""

import dataclasses

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from agents.models import AuditEvent, Principal
from agents.services import principal_suspend
from tests.conftest import make_principal
from tests.support.oidc_provider import login_through_provider
from tests.support.settings_probe import settings_value

pytestmark = pytest.mark.django_db

User = get_user_model()


@pytest.fixture
def idp(oidc_provider, oidc_settings):
    """The provider; the service syncs `gqlgov-*` groups and `approvers`, and has staff/superuser groups."""
    oidc_settings.OIDC_GROUP_PREFIX = "gqlgov-"
    oidc_settings.OIDC_GROUP_ALLOWLIST = ["approvers"]
    oidc_settings.OIDC_STAFF_GROUPS = ["gqlgov-admins"]
    oidc_settings.OIDC_SUPERUSER_GROUPS = ["platform-root"]
    return oidc_provider


def sign_in(idp, **user_changes) -> Client:
    """A new browser session that went through the provider as `idp.next_user` with `user_changes`."""
    idp.next_user = dataclasses.replace(idp.next_user, **user_changes)
    client = Client()
    response = login_through_provider(client)
    assert response.status_code == 302
    return client


def signed_in_user(client: Client):
    return User.objects.get(pk=client.session["_auth_user_id"])


def test_first_login_creates_a_human_principal_linked_to_a_new_staff_user(idp):
    client = sign_in(idp, groups=("gqlgov-admins",))
    user = signed_in_user(client)
    assert (user.username, user.email, user.is_staff, user.is_superuser) == (
        "alice",
        "alice@example.com",
        True,
        False,
    )
    assert not user.has_usable_password()
    principal = Principal.objects.get(oidc_subject=idp.next_user.sub)
    assert (principal.kind, principal.name, principal.user) == ("human", "alice", user)
    assert client.get("/admin/").status_code == 200


def test_login_uses_pkce_with_s256(idp):
    sign_in(idp)
    authorize = idp.authorize_requests[-1]
    assert authorize["code_challenge_method"] == "S256"
    assert len(authorize["code_challenge"]) == 43


def test_login_is_audited_with_creation_group_sync_and_login_events(idp):
    user = signed_in_user(sign_in(idp, groups=("gqlgov-admins",)))
    events = {event.action: event for event in AuditEvent.objects.all()}
    assert {"principal.created", "groups.synced", "login.oidc"} <= set(events)
    assert events["principal.created"].actor == f"idp:{idp.issuer}"
    assert events["groups.synced"].details["added"] == ["gqlgov-admins"]
    assert events["groups.synced"].details["is_staff"] == {"from": False, "to": True}
    assert events["login.oidc"].actor == f"user:{user.username}"


def test_only_groups_with_the_prefix_or_in_the_allowlist_are_synced(idp):
    user = signed_in_user(
        sign_in(idp, groups=("gqlgov-readers", "approvers", "Domain Users", "xgqlgov-admins"))
    )
    assert set(user.groups.values_list("name", flat=True)) == {"gqlgov-readers", "approvers"}
    assert user.principal.groups == ["approvers", "gqlgov-readers"]
    assert not user.is_staff


def test_second_login_without_the_staff_group_revokes_staff(idp):
    sign_in(idp, groups=("gqlgov-admins", "gqlgov-readers"))
    client = sign_in(idp, groups=("gqlgov-readers",))
    user = signed_in_user(client)
    assert not user.is_staff
    assert list(user.groups.values_list("name", flat=True)) == ["gqlgov-readers"]
    synced = AuditEvent.objects.filter(action="groups.synced").last()
    assert synced.details == {
        "added": [],
        "removed": ["gqlgov-admins"],
        "is_staff": {"from": True, "to": False},
    }
    assert client.get("/admin/").status_code == 302


def test_superuser_comes_only_from_the_superuser_group_and_goes_with_it(idp):
    assert signed_in_user(sign_in(idp, groups=("platform-root",))).is_superuser
    user = signed_in_user(sign_in(idp, groups=("gqlgov-admins",)))
    assert (user.is_staff, user.is_superuser) == (True, False)


def test_user_is_matched_by_sub_so_a_changed_email_keeps_the_same_user(idp):
    first = signed_in_user(sign_in(idp))
    again = signed_in_user(sign_in(idp, email="alice.new@example.com"))
    assert again.pk == first.pk
    assert again.email == "alice.new@example.com"


def test_another_subject_with_a_known_email_gets_its_own_user(idp):
    local = User.objects.create_user("alice", email="alice@example.com", password="correct-horse-battery")
    user = signed_in_user(sign_in(idp, sub="someone-else"))
    assert user.pk != local.pk
    assert user.username == "alice-2"


def test_human_principal_registered_with_a_subject_is_linked_at_first_login(idp):
    registered = make_principal("alice-human", "human", oidc_subject=idp.next_user.sub)
    user = signed_in_user(sign_in(idp))
    registered.refresh_from_db()
    assert registered.user == user


@pytest.mark.parametrize("kind", ["ai", "suspended-human"])
def test_subject_of_an_agent_or_a_suspended_human_cannot_sign_in(idp, kind):
    principal = make_principal("taken", "ai" if kind == "ai" else "human", oidc_subject=idp.next_user.sub)
    if kind == "suspended-human":
        principal_suspend(actor="test", principal=principal)
    client = Client()
    response = login_through_provider(client)
    assert response.status_code == 302
    assert response["Location"] != "/admin/"
    assert "_auth_user_id" not in client.session


def test_login_page_offers_the_identity_provider(client, oidc_settings):
    page = client.get("/admin/login/?next=/admin/").content.decode()
    assert "Sign in with Test IdP" in page
    assert 'href="/oidc/authenticate/?next=/admin/"' in page
    assert 'name="password"' in page


def test_local_password_login_is_refused_when_disabled(client, oidc_settings, staff_user):
    oidc_settings.LOCAL_LOGIN_ENABLED = False
    oidc_settings.AUTHENTICATION_BACKENDS = ["agents.oidc.PrincipalOIDCBackend"]
    page = client.get("/admin/login/").content.decode()
    assert 'name="password"' not in page
    assert "Sign in with Test IdP" in page
    response = client.post("/admin/login/", {"username": "alice", "password": "correct-horse-battery"})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_settings_leave_out_the_password_backend_when_local_login_is_disabled():
    environment = {
        "LOCAL_LOGIN_ENABLED": "false",
        "OIDC_RP_CLIENT_ID": "gqlgov",
        "OIDC_OP_AUTHORIZATION_ENDPOINT": "https://idp.example.com/authorize",
    }
    backends = settings_value(environment, "settings.AUTHENTICATION_BACKENDS")
    # gqlgov.roles.RoleBackend follows: it authenticates nobody, it only grants permissions by role.
    assert backends == ["agents.oidc.PrincipalOIDCBackend", "gqlgov.roles.RoleBackend"]


def test_a_role_group_is_synced_and_makes_the_user_staff(idp, oidc_settings):
    oidc_settings.GQLGOV_ROLE_GROUPS = {"viewer": [], "editor": ["api-editors"], "approver": [], "admin": []}
    user = signed_in_user(sign_in(idp, groups=("api-editors", "unrelated")))
    assert user.is_staff
    assert list(user.groups.values_list("name", flat=True)) == ["api-editors"]
