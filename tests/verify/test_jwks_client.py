"""JwksClient against a real JWKS endpoint on loopback: caching across a key rotation, one refresh
for an unknown kid, rate-limited refreshes, and the last good keys while gqlgov is down (no Django)."""

from __future__ import annotations

import threading

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from gqlgov_verify import KEY_UNKNOWN, DecisionRejected, JwksClient, verify_decision
from gqlgov_verify.jwks import MAX_JWKS_BYTES, issuer_of
from tests.verify.factories import ORDERS_QUERY, ORDERS_VARIABLES, jwks, make_key, make_token
from tests.verify.servers import JwksServer


class Clock:
    """A monotonic clock the test moves by hand (the client takes it as a parameter)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def verifies(token: str, client: JwksClient) -> bool:
    try:
        verify_decision(token, query=ORDERS_QUERY, variables=ORDERS_VARIABLES, jwks=client)
    except DecisionRejected as rejection:
        assert rejection.code == KEY_UNKNOWN, rejection
        return False
    return True


def test_a_cached_jwks_keeps_working_across_a_rotation():
    old, new = make_key("gqlgov-old"), make_key("gqlgov-new")
    clock = Clock()
    with JwksServer(jwks(old)) as server:
        client = JwksClient(server.url, cache_s=300, min_refresh_interval_s=10, clock=clock)
        assert verifies(make_token(old), client)
        assert server.requests == 1

        server.document = jwks(new, old)  # rotate: gqlgov signs with `new`, still publishes `old`
        clock.now += 60
        assert verifies(make_token(old), client)  # from the cache: no request
        assert server.requests == 1
        assert verifies(make_token(new), client)  # an unknown kid: one refresh
        assert verifies(make_token(new), client)
        assert verifies(make_token(old), client)
        assert server.requests == 2

        server.document = jwks(new)  # every token `old` signed has expired: it is withdrawn
        clock.now += 301
        assert verifies(make_token(new), client)  # the cache expired: refreshed
        assert server.requests == 3
        assert not verifies(make_token(old), client)


def test_a_flood_of_unknown_kids_costs_gqlgov_one_request_per_refresh_interval(key):
    clock = Clock()
    with JwksServer(jwks(key)) as server:
        client = JwksClient(server.url, min_refresh_interval_s=10, clock=clock)
        assert verifies(make_token(key), client)

        clock.now += 11
        strangers = [make_token(make_key(f"made-up-{n}")) for n in range(50)]
        assert not any(verifies(token, client) for token in strangers)
        assert server.requests == 2

        clock.now += 11
        assert not verifies(strangers[0], client)
        assert server.requests == 3


def test_a_new_key_published_within_the_refresh_interval_is_found_after_it():
    old, new = make_key("k1"), make_key("k2")
    clock = Clock()
    with JwksServer(jwks(old)) as server:
        client = JwksClient(server.url, min_refresh_interval_s=10, clock=clock)
        assert verifies(make_token(old), client)
        server.document = jwks(new, old)

        clock.now += 3
        assert not verifies(make_token(new), client)
        clock.now += 8
        assert verifies(make_token(new), client)


def test_while_gqlgov_is_down_the_last_good_keys_keep_verifying(key):
    clock = Clock()
    with JwksServer(jwks(key)) as server:
        client = JwksClient(server.url, cache_s=300, min_refresh_interval_s=10, clock=clock)
        assert verifies(make_token(key), client)

        server.status = 503
        clock.now += 301
        assert verifies(make_token(key), client)
        assert "503" in client.last_error
        assert verifies(make_token(key), client)
        assert server.requests == 2  # the failed refresh is not retried within the interval

        server.status = 200
        clock.now += 11
        assert verifies(make_token(key), client)
        assert client.last_error is None
        assert server.requests == 3


@pytest.mark.parametrize(
    "garbage", ["not json", {"keys": "nope"}, {"no": "keys"}, {"keys": [], "pad": "x" * MAX_JWKS_BYTES}]
)
def test_an_answer_that_is_no_jwk_set_leaves_the_cached_keys_in_place(key, garbage):
    clock = Clock()
    with JwksServer(jwks(key)) as server:
        client = JwksClient(server.url, cache_s=300, min_refresh_interval_s=10, clock=clock)
        assert verifies(make_token(key), client)

        server.document = garbage
        clock.now += 301
        assert verifies(make_token(key), client)
        assert client.last_error
        assert client.kids() == [key.kid]


def test_a_jwks_that_was_never_reachable_is_key_unknown_saying_why(key):
    with JwksServer(jwks(key)) as server:
        url = server.url
    client = JwksClient(url, timeout_s=2)

    with pytest.raises(DecisionRejected) as raised:
        verify_decision(make_token(key), query=ORDERS_QUERY, variables=ORDERS_VARIABLES, jwks=client)

    assert raised.value.code == KEY_UNKNOWN
    assert "could not be fetched" in raised.value.message


def test_concurrent_verifications_of_a_new_kid_share_one_refresh(key):
    with JwksServer(jwks(key)) as server:
        client = JwksClient(server.url, min_refresh_interval_s=10)
        token = make_token(key)
        start = threading.Barrier(16)
        results: list[bool] = []

        def verify() -> None:
            start.wait()
            results.append(verifies(token, client))

        threads = [threading.Thread(target=verify) for _ in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert results == [True] * 16
    assert server.requests == 1


def test_keys_that_are_not_es256_signing_keys_are_skipped_not_fatal(key):
    import json

    import jwt

    rsa_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rsa.generate_private_key(65537, 2048).public_key()))
    p384 = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(ec.generate_private_key(ec.SECP384R1()).public_key()))
    document = {
        "keys": [
            {**rsa_jwk, "kid": "rsa"},
            {**p384, "kid": "p384"},
            {**key.public_jwk(), "kid": "enc", "use": "enc"},
            {**key.public_jwk(), "kid": "hs", "alg": "HS256"},
            {k: v for k, v in key.public_jwk().items() if k != "kid"},
            {"kty": "EC", "crv": "P-256", "kid": "broken", "x": "AAAA", "y": "AAAA"},
            "junk",
            key.public_jwk(),
        ]
    }
    with JwksServer(document) as server:
        client = JwksClient(server.url)

        assert verifies(make_token(key), client)
        assert client.kids() == [key.kid]


def test_only_http_urls_are_fetched():
    with pytest.raises(ValueError):
        JwksClient("file:///etc/passwd")


def test_the_issuer_is_the_jwks_url_without_the_well_known_path():
    assert issuer_of("https://gqlgov.example.com/api/v1/.well-known/jwks.json") == "https://gqlgov.example.com"
    assert issuer_of("https://keys.example.com/jwks.json") is None
