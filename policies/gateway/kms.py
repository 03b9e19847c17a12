"""KMS: envelope encryption of the secrets gqlgov holds, on-demand key rotation, plan signatures.

No Django here: callers pass a boto3 KMS client and get bytes/strings back.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from policies.gateway.plan import canonical_json

SIGNING_ALGORITHM = "RSASSA_PSS_SHA_256"


@dataclass(frozen=True)
class Envelope:
    encrypted_data_key: bytes
    nonce: bytes
    ciphertext: bytes
    kms_key_id: str


def encrypt(kms: Any, key_id: str, plaintext: str, context: dict[str, str]) -> Envelope:
    """A fresh AES-256 data key from KMS encrypts the value locally; only the wrapped key is kept."""
    data_key = kms.generate_data_key(KeyId=key_id, KeySpec="AES_256", EncryptionContext=context)
    nonce = os.urandom(12)
    aad = canonical_json(context).encode()
    ciphertext = AESGCM(data_key["Plaintext"]).encrypt(nonce, plaintext.encode("utf-8"), aad)
    return Envelope(data_key["CiphertextBlob"], nonce, ciphertext, key_id)


def decrypt(kms: Any, envelope: Envelope, context: dict[str, str]) -> str:
    data_key = kms.decrypt(
        CiphertextBlob=bytes(envelope.encrypted_data_key),
        EncryptionContext=context,
        KeyId=envelope.kms_key_id,
    )
    aad = canonical_json(context).encode()
    return AESGCM(data_key["Plaintext"]).decrypt(bytes(envelope.nonce), bytes(envelope.ciphertext), aad).decode()


def rotate(kms: Any, key_id: str) -> None:
    """Rotates the key material now (KMS keeps the old material for decrypting old data keys)."""
    kms.rotate_key_on_demand(KeyId=key_id)


def last_rotation(kms: Any, key_id: str) -> Any:
    rotations = kms.list_key_rotations(KeyId=key_id).get("Rotations", [])
    return max((r["RotationDate"] for r in rotations), default=None)


def plan_digest(plan: dict[str, Any]) -> bytes:
    return hashlib.sha256(canonical_json(plan).encode("utf-8")).digest()


def sign_plan(kms: Any, key_id: str, plan: dict[str, Any]) -> str:
    """The base64 signature of the plan's SHA-256 digest under the asymmetric key."""
    response = kms.sign(
        KeyId=key_id, Message=plan_digest(plan), MessageType="DIGEST", SigningAlgorithm=SIGNING_ALGORITHM
    )
    return base64.b64encode(response["Signature"]).decode()


def verify_plan(kms: Any, key_id: str, plan: dict[str, Any], signature: str) -> bool:
    """True when the signature matches this exact plan (any byte changed: False)."""
    try:
        response = kms.verify(
            KeyId=key_id,
            Message=plan_digest(plan),
            MessageType="DIGEST",
            Signature=base64.b64decode(signature),
            SigningAlgorithm=SIGNING_ALGORITHM,
        )
    except kms.exceptions.KMSInvalidSignatureException:
        return False
    return bool(response.get("SignatureValid"))
