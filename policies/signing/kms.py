"""An AWS KMS asymmetric key (ECC_NIST_P256, SIGN_VERIFY) as the signer of decision tokens: the
private key never leaves KMS; its public key is read once (GetPublicKey) and published.

No Django here: callers pass a boto3 KMS client.
"""

from __future__ import annotations

import hashlib
from typing import Any

from cryptography.hazmat.primitives.serialization import load_der_public_key

from policies.signing import jws

KEY_SPEC = "ECC_NIST_P256"
SIGNING_ALGORITHM = "ECDSA_SHA_256"
# KMS signs a RAW message of at most 4096 bytes (hashing it itself); a longer signing input is
# sent as its SHA-256 DIGEST, which is the same ECDSA signature. RAW first because moto, which
# the tests run against, does not implement DIGEST (it hashes the digest again).
RAW_MESSAGE_LIMIT = 4096


def public_key(kms: Any, key_id: str) -> Any:
    """The key's public key; ValueError unless it is an ECC_NIST_P256 signing key."""
    response = kms.get_public_key(KeyId=key_id)
    spec = response.get("KeySpec") or response.get("CustomerMasterKeySpec")
    if spec != KEY_SPEC or response.get("KeyUsage") != "SIGN_VERIFY":
        usage = response.get("KeyUsage")
        raise ValueError(f"KMS key {key_id} is {spec} for {usage}: ES256 needs {KEY_SPEC} for SIGN_VERIFY")
    return load_der_public_key(response["PublicKey"])


def signer(kms: Any, key_id: str) -> jws.Signer:
    """Signs a JWS signing input with KMS (one Sign call), answering JOSE's raw r || s form."""

    def sign(signing_input: bytes) -> bytes:
        if len(signing_input) <= RAW_MESSAGE_LIMIT:
            message, message_type = signing_input, "RAW"
        else:
            message, message_type = hashlib.sha256(signing_input).digest(), "DIGEST"
        response = kms.sign(
            KeyId=key_id, Message=message, MessageType=message_type, SigningAlgorithm=SIGNING_ALGORITHM
        )
        return jws.raw_signature(response["Signature"])

    return sign
