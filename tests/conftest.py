"""Shared fixtures: typed factories for identities, an API client, and per-test isolation.

Django is imported lazily so the pure engine and limiter tests also run with `-p no:django`.
"""

import uuid

import pytest

from tests.support.oidc_provider import oidc_provider, oidc_settings  # noqa: F401


def make_principal(name: str = "support-bot", kind: str = "ai", **fields):
    from agents.services import principal_create

    return principal_create(actor="test", name=name, kind=kind, **fields)


def issue_token_for(principal, **fields) -> str:
    from agents.services import token_issue

    _token, plaintext = token_issue(actor="test", principal=principal, **fields)
    return plaintext


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


@pytest.fixture(autouse=True)
def _isolated_runtime(request):
    """Each Django test starts with empty per-process caches and its own rate-limit keys."""
    if not request.config.pluginmanager.hasplugin("django"):
        yield
        return
    settings_fixture = request.getfixturevalue("settings")
    from policies.checks.caches import clear_caches
    from policies.checks.limiter import get_limiter

    settings_fixture.GQLGOV_RATE_LIMIT_KEY_PREFIX = f"test:{uuid.uuid4().hex}:"
    get_limiter.cache_clear()
    clear_caches()
    yield
    get_limiter.cache_clear()
    clear_caches()


@pytest.fixture
def client():
    from django.test import Client

    return Client(raise_request_exception=False)


@pytest.fixture
def agent(db):
    return make_principal("support-bot", "ai", groups=["support"], attributes={"team": "support"})


@pytest.fixture
def agent_token(agent) -> str:
    return issue_token_for(agent)


@pytest.fixture
def staff_user(db):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user("alice", password="correct-horse-battery", is_staff=True)


@pytest.fixture
def superuser(db):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_superuser("root", password="correct-horse-battery")
