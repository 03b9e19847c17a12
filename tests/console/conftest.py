"""Personas for the admin UI: one Django user per role, signed in with the test client."""

from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client

from agents.services import principal_create
from policies import engine
from policies.models import Schema
from policies.services import policy_approve, policy_load, schema_register
from tests.console.browser import chromium, idp, sign_in  # noqa: F401
from tests.support.moto_server import aws_credentials, moto_server, moto_url  # noqa: F401


def make_user(username: str, *role_names: str, **fields):
    """A user in the IdP groups that map to `role_names` (as the OIDC login would sync them)."""
    user = get_user_model().objects.create_user(username, password=None, **fields)  # no hashing: fast
    for role in role_names:
        group, _ = Group.objects.get_or_create(name=settings.GQLGOV_ROLE_GROUPS[role][0])
        user.groups.add(group)
    return user


def signed_in(user) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


@pytest.fixture
def viewer(db):
    return make_user("vera", "viewer")


@pytest.fixture
def editor(db):
    return make_user("eddie", "editor")


@pytest.fixture
def approver(db):
    return make_user("april", "approver")


@pytest.fixture
def admin_user(db):
    return make_user("ada", "admin")


@pytest.fixture
def outsider(db):
    return make_user("olga")


DEMO_DIR = Path(__file__).resolve().parents[2] / "policies" / "demo"


@pytest.fixture
def shop(db):
    """The demo shop schema with its demo policy approved (v1), authored and approved by others."""
    schema_register(actor="test", name="shop", sdl=(DEMO_DIR / "shop.graphql").read_text())
    document = engine.parse_policy_yaml((DEMO_DIR / "shop-policy.yaml").read_text())
    author, reviewer = make_user("policy-author", "editor"), make_user("policy-reviewer", "approver")
    policy_approve(approver=reviewer, version=policy_load(author=author, document=document))
    return Schema.objects.select_related("active_policy", "latest_version").get(name="shop")


@pytest.fixture
def support_bot(db):
    return principal_create(
        actor="test", name="support-bot", kind="ai", groups=["support"], attributes={"team": "support"}
    )
