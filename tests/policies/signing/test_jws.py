"""The token format on its own: ES256 compact JWS that other JOSE libraries verify, RFC 7638 key ids."""

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from joserfc.jwk import ECKey

from policies.signing import jws


@pytest.fixture(scope="module")
def private_key():
    return ec.generate_private_key(ec.SECP256R1())


def test_a_token_verifies_with_pyjwt_and_carries_kid_and_type(private_key):
    token = jws.compact(jws.header_segment("k1"), {"sub": "bot", "n": 1}, jws.local_signer(private_key))

    assert jwt.decode(token, private_key.public_key(), algorithms=["ES256"]) == {"sub": "bot", "n": 1}
    assert jwt.get_unverified_header(token) == {"alg": "ES256", "kid": "k1", "typ": "gqlgov-decision+jwt"}


def test_signatures_are_jose_r_and_s_of_32_bytes_each_even_when_short():
    # r = 1 and s = 2**255: DER drops leading zeros, JOSE pads both to 32 bytes.
    raw = jws.raw_signature(encode_dss_signature(1, 2**255))

    assert raw == (1).to_bytes(32, "big") + (2**255).to_bytes(32, "big")


def test_the_kid_is_the_rfc7638_thumbprint_other_libraries_compute(private_key):
    jwk = jws.public_jwk(private_key.public_key())

    assert jws.thumbprint(jwk) == ECKey.import_key(jwk).thumbprint()
    assert jws.published("k", jwk) == {**jwk, "kid": "k", "use": "sig", "alg": "ES256"}


@pytest.mark.parametrize("other", [ec.generate_private_key(ec.SECP384R1()).public_key(),
                                   rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()])
def test_only_p256_keys_make_es256_jwks(other):
    with pytest.raises(ValueError, match="P-256"):
        jws.public_jwk(other)


def test_the_signing_input_is_header_dot_payload(private_key):
    seen = []
    token = jws.compact(jws.header_segment("k1"), {}, lambda data: seen.append(data) or b"\0" * 64)

    assert token.rsplit(".", 1)[0].encode() == seen[0]
