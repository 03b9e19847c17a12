"""Compact JWS (RFC 7515) signed with ES256 (RFC 7518 §3.4), and its public key as a JWK.

No Django: the signer is any callable from the signing input to the raw signature, so one format
serves a key gqlgov holds and a key that never leaves KMS.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from gqlgov import jsonfast

ALGORITHM = "ES256"
# Explicit typing (RFC 8725 §3.11): a decision token cannot pass for another kind of JWT.
TOKEN_TYPE = "gqlgov-decision+jwt"
_COORDINATE_BYTES = 32  # P-256
_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())

Signer = Callable[[bytes], bytes]


def b64url(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def header_segment(kid: str) -> bytes:
    """The encoded protected header of every token the key `kid` signs (computed once per key)."""
    return b64url(jsonfast.dumps({"alg": ALGORITHM, "kid": kid, "typ": TOKEN_TYPE}))


def compact(header: bytes, claims: dict[str, Any], sign: Signer) -> str:
    """header.payload.signature, the payload being the claims as compact JSON."""
    signing_input = header + b"." + b64url(jsonfast.dumps(claims))
    return (signing_input + b"." + b64url(sign(signing_input))).decode("ascii")


def raw_signature(der: bytes) -> bytes:
    """JOSE's ES256 signature, r || s in 32 bytes each, from the DER ECDSA-Sig-Value that both
    cryptography and KMS return."""
    r, s = decode_dss_signature(der)
    return r.to_bytes(_COORDINATE_BYTES, "big") + s.to_bytes(_COORDINATE_BYTES, "big")


def local_signer(private_key: ec.EllipticCurvePrivateKey) -> Signer:
    """Signs with a P-256 private key held in this process."""
    return lambda signing_input: raw_signature(private_key.sign(signing_input, _ECDSA_SHA256))


def public_jwk(public_key: Any) -> dict[str, str]:
    """The RFC 7518 members of a P-256 public key (kty, crv, x, y); ValueError for any other key."""
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or not isinstance(public_key.curve, ec.SECP256R1):
        raise ValueError("ES256 needs a P-256 (ECC_NIST_P256) key")
    numbers = public_key.public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": b64url(numbers.x.to_bytes(_COORDINATE_BYTES, "big")).decode("ascii"),
        "y": b64url(numbers.y.to_bytes(_COORDINATE_BYTES, "big")).decode("ascii"),
    }


def thumbprint(jwk: dict[str, str]) -> str:
    """The RFC 7638 thumbprint (SHA-256, base64url) of an EC JWK: the key's id, the same wherever computed."""
    required = {name: jwk[name] for name in ("crv", "kty", "x", "y")}
    canonical = json.dumps(required, separators=(",", ":"), sort_keys=True).encode("ascii")
    return b64url(hashlib.sha256(canonical).digest()).decode("ascii")


def published(kid: str, jwk: dict[str, str]) -> dict[str, str]:
    """The JWK as a JWK Set lists it: with its id, its use and its one algorithm."""
    return {**jwk, "kid": kid, "use": "sig", "alg": ALGORITHM}
