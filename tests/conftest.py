"""Shared fixtures: typed factories for identities and an authenticated API client."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from agents.models import Principal
from agents.services import principal_create, token_issue
from tests.fixtures.oidc_provider import oidc_provider, oidc_settings  # noqa: F401

def make_principal(name: str = "support-bot", kind: str = "ai", **fields) -> Principal:
    return principal_create(actor="test", name=name, kind=kind, **fields)


def issue_token_for(principal: Principal, **fields) -> str:
    _token, plaintext = token_issue(actor="test", principal=principal, **fields)
    return plaintext


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


@pytest.fixture
def client() -> Client:
    return Client(raise_request_exception=False)


@pytest.fixture
def agent(db) -> Principal:
    return make_principal("support-bot", "ai", groups=["support"], attributes={"team": "support"})


@pytest.fixture
def agent_token(agent) -> str:
    return issue_token_for(agent)


@pytest.fixture
def staff_user(db):
    return get_user_model().objects.create_user("alice", password="correct-horse-battery", is_staff=True)


@pytest.fixture
def superuser(db):
    return get_user_model().objects.create_superuser("root", password="correct-horse-battery")
