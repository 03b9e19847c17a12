"""Helpers of the signed-decision tests: a check, the JWK Set as a verifier fetches it, PyJWT's verification."""

import json

import jwt
import pytest

from tests.conftest import bearer
from tests.support.moto_server import aws_credentials, moto_server, moto_url  # noqa: F401

CHECK = "/api/v1/check"
JWKS = "/api/v1/.well-known/jwks.json"
ORDERS = "{ orders(first: 5) { edges { node { id customer { name } } } } }"


def check(client, token, **body):
    return client.post(CHECK, data=json.dumps(body), content_type="application/json", **bearer(token))


def fetch_jwks(client) -> jwt.PyJWKSet:
    """The published keys, as a verifier that caches them holds them."""
    response = client.get(JWKS)
    assert response.status_code == 200
    return jwt.PyJWKSet.from_dict(response.json())


def verify(token: str, jwks: jwt.PyJWKSet, *, seconds_from_now: int = 0) -> dict:
    """The claims of a decision token, verified as a backend would (signature by the kid's key,
    ES256 only, exp), now or as it would be `seconds_from_now`."""
    key = jwks[jwt.get_unverified_header(token)["kid"]]
    options = {"require": ["exp", "iat"], "verify_iat": not seconds_from_now}
    return jwt.decode(token, key=key, algorithms=["ES256"], options=options, leeway=-seconds_from_now)


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks):
    """Runs the callbacks of what commits inside it, as production does after each transaction."""
    return lambda: django_capture_on_commit_callbacks(execute=True)
