"""The public keys a token may be signed with: a JWK Set parsed to the ES256 keys it publishes.

Only EC P-256 signing keys with a `kid` count; anything else in the set (other curves, RSA, keys
for encryption, keys without `kid`) is skipped rather than failing the whole set, so a JWKS that
also lists keys for other purposes still serves.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import jwt

ALGORITHM = "ES256"
MAX_KID_LENGTH = 256


class KeysUnavailable(Exception):
    """No key set was ever obtained (the JWKS endpoint has not answered yet)."""


class KeySource(Protocol):
    """Anything that finds the public key for a `kid`: a static set or a `JwksClient`."""

    def key(self, kid: str) -> jwt.PyJWK | None:
        """The key published under `kid`, or None; may raise `KeysUnavailable`."""
        ...


def parse_jwks(document: Any) -> dict[str, jwt.PyJWK]:
    """The usable ES256 keys of a JWK Set document, by `kid`; ValueError when it is no JWK Set."""
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWK Set: an object with a `keys` list is expected")
    keys: dict[str, jwt.PyJWK] = {}
    for entry in document["keys"]:
        parsed = _es256_key(entry)
        if parsed is not None:
            keys[parsed[0]] = parsed[1]
    return keys


def _es256_key(entry: Any) -> tuple[str, jwt.PyJWK] | None:
    if not isinstance(entry, Mapping):
        return None
    kid = entry.get("kid")
    if not isinstance(kid, str) or not kid or len(kid) > MAX_KID_LENGTH:
        return None
    if entry.get("kty") != "EC" or entry.get("crv") != "P-256":
        return None
    if entry.get("use", "sig") != "sig" or entry.get("alg", ALGORITHM) != ALGORITHM:
        return None
    # Only the public members: a set that (wrongly) publishes `d` must not make us hold a private key.
    public = {"kty": "EC", "crv": "P-256", "x": entry.get("x"), "y": entry.get("y"), "kid": kid}
    try:
        return kid, jwt.PyJWK(public, algorithm=ALGORITHM)
    except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError):
        return None


class StaticKeys:
    """A fixed JWK Set (a dict), parsed once."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self._keys = parse_jwks(document)

    def key(self, kid: str) -> jwt.PyJWK | None:
        return self._keys.get(kid)

    def kids(self) -> list[str]:
        return sorted(self._keys)
