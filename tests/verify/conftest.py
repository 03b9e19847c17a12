"""Fixtures of the verifier's tests (no Django: these run with `-p no:django` too)."""

import pytest

from tests.support.moto_server import aws_credentials, moto_server, moto_url  # noqa: F401
from tests.support.redis_server import redis_server, redis_url  # noqa: F401
from tests.verify.factories import SigningKey, make_key


@pytest.fixture(autouse=True)
def _isolated_runtime():
    """Replaces the suite's per-test Django reset: nothing here touches Django."""
    yield


@pytest.fixture
def key() -> SigningKey:
    return make_key("gqlgov-2026-01")
