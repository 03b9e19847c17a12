"""GET /api/v1/.well-known/jwks.json: public, cacheable, and a verifier's cached copy keeps working across a rotation."""

from io import StringIO

import jwt
import pytest
from django.core.management import call_command

from policies.models import DecisionSigningKey
from tests.policies.signing.conftest import JWKS, ORDERS, check, fetch_jwks, verify

pytestmark = pytest.mark.django_db


def rotate() -> None:
    call_command("rotate_decision_key", stdout=StringIO())


def test_the_jwks_is_public_and_lists_es256_signing_keys_without_private_parts(client):
    response = client.get(JWKS)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/jwk-set+json"
    [key] = response.json()["keys"]
    assert set(key) == {"kty", "crv", "x", "y", "kid", "use", "alg"}
    assert (key["kty"], key["crv"], key["use"], key["alg"]) == ("EC", "P-256", "sig", "ES256")
    assert key["kid"] == DecisionSigningKey.objects.get(active=True).kid


def test_the_jwks_may_be_cached_for_half_of_a_retired_keys_overlap(client, settings):
    # The overlap: a token's 60 s, 1 s of another process's stale signer, 30 s of clock leeway.
    assert client.get(JWKS)["Cache-Control"] == "public, max-age=45"
    settings.GQLGOV_DECISION_TOKEN_TTL_S = 600
    assert client.get(JWKS)["Cache-Control"] == "public, max-age=315"


def test_a_verifier_caching_the_jwks_keeps_working_across_a_rotation(client, shop, agent_token, on_commit):
    cached = fetch_jwks(client)
    before = check(client, agent_token, query=ORDERS).json()["decision_token"]
    with on_commit():
        rotate()
    after = check(client, agent_token, query=ORDERS).json()["decision_token"]

    # Tokens of the previous key verify against the copy cached before the rotation, until they expire.
    assert verify(before, cached)["sub"] == "support-bot"
    verify(before, cached, seconds_from_now=50)
    with pytest.raises(jwt.ExpiredSignatureError):
        verify(before, cached, seconds_from_now=61)
    # A token of the new key names a kid the copy lacks: one refetch, and both verify.
    with pytest.raises(KeyError):
        verify(after, cached)
    refetched = fetch_jwks(client)
    assert verify(after, refetched)["sub"] == verify(before, refetched)["sub"] == "support-bot"


def test_other_methods_and_query_strings_get_the_error_shape_or_the_set_never_a_500(client):
    assert client.get(JWKS + "?kid=nope&x=" + "a" * 5000).status_code == 200
    assert client.get(JWKS + "?kid=%00").json()["error"]["code"] == "MALFORMED_REQUEST"
    for method in ("post", "put", "delete"):
        response = getattr(client, method)(JWKS, data=b"\xff", content_type="application/json")
        assert response.status_code == 405
        assert response.json()["error"]["code"] == "METHOD_NOT_ALLOWED"
