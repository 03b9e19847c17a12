"""Decision signing keys: created and rotated with an audit event in the same transaction, their
private keys encrypted at rest, the ones a verifier must still be able to find published.

- The first key is made lazily, by the first token or JWK Set that needs one (`ensure_active_key`),
  not by a migration: a migration would need SECRET_KEY or KMS at migrate time, and a deployment
  that switches to a KMS key before its first check would start with a key it never uses.
- `rotate_decision_key` makes a new key active. The previous one stops signing (its private key
  is wiped) but stays in the JWK Set for `overlap_s()`, until every token it signed has expired.
- Keys gqlgov holds are stored as the export's secrets are: AES-256-GCM under a fresh KMS data key
  (envelope encryption, policies/gateway/kms.py) when GQLGOV_DECISION_KEY_WRAP_KMS_KEY_ID is set;
  otherwise, in the embedded default without AWS, under a key derived from SECRET_KEY by HKDF
  (losing or changing SECRET_KEY then only costs a rotation: see `signer_for`).
- With GQLGOV_DECISION_SIGNING_KMS_KEY_ID, KMS signs and gqlgov stores the public key alone.
  The key a deployment signs with changes only by rotation: after changing either KMS setting,
  run `rotate_decision_key` (the first key follows the settings by itself).
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from agents.audit import record_event
from gqlgov.errors import ApiError
from policies.checks.caches import forget_signing_keys
from policies.gateway import kms as envelope_kms
from policies.gateway.aws import aws_client, aws_message
from policies.models import DecisionSigningKey
from policies.signing import jws
from policies.signing import kms as signing_kms

logger = logging.getLogger("gqlgov.signing")

# Clock skew a verifier may allow past `exp`: a retired key is published for this much longer.
CLOCK_LEEWAY_S = 30
# Distinguishes this use of SECRET_KEY from Django's own (sessions, signing) and from future ones.
_SECRET_KEY_WRAP_INFO = b"gqlgov decision signing key wrap v1"
_AWS_ERRORS = (BotoCoreError, ClientError)


class SigningUnavailable(ApiError):
    """The active key cannot sign right now (KMS unreachable, a key that no longer decrypts)."""

    status = 503

    def __init__(self, message: str) -> None:
        super().__init__("DECISION_SIGNING_UNAVAILABLE", message, headers={"Retry-After": "2"})


def overlap_s() -> int:
    """How long a retired key stays published: a token's lifetime, plus the time other processes
    may go on signing with it before they notice the rotation, plus the verifiers' clock leeway."""
    return settings.GQLGOV_DECISION_TOKEN_TTL_S + math.ceil(settings.GQLGOV_POLICY_REFRESH_S) + CLOCK_LEEWAY_S


def published_keys(now: datetime) -> list[DecisionSigningKey]:
    """The active key and every retired key some unexpired token may still name, newest first."""
    return list(DecisionSigningKey.objects.filter(Q(active=True) | Q(not_after__gt=now)).order_by("-activated_at"))


@dataclass(frozen=True)
class Rotation:
    key: DecisionSigningKey
    retired: list[str]  # kids
    published_until: datetime | None  # of the retired keys


def rotate_decision_key(*, actor: str) -> Rotation:
    """Makes a new key active (with the KMS signing key: makes the configured KMS key active);
    CONFLICT (409) when that KMS key already is."""
    configured = settings.GQLGOV_DECISION_SIGNING_KMS_KEY_ID
    if configured and DecisionSigningKey.objects.filter(active=True, kms_key_id=configured).exists():
        raise ApiError(
            "CONFLICT",
            f"KMS key {configured} already signs decisions. To rotate, create another ECC_NIST_P256 "
            "SIGN_VERIFY key, set GQLGOV_DECISION_SIGNING_KMS_KEY_ID to it and run this again.",
            status=409,
        )
    return _install(_new_key_fields(), actor=actor, action="decision_key.rotated")


def ensure_active_key() -> DecisionSigningKey:
    """The active key; the first one is made here (audited) when there is none."""
    active = DecisionSigningKey.objects.filter(active=True).first()
    if active is not None:
        return active
    fields = _new_key_fields()
    try:
        return _install(fields, actor="system", action="decision_key.created", first=True).key
    except IntegrityError:  # another process made the first key meanwhile: use that one
        return DecisionSigningKey.objects.get(active=True)


def _install(fields: dict[str, Any], *, actor: str, action: str, first: bool = False) -> Rotation:
    """Activates the key, retiring (and wiping) the active one, with the audit event, in one transaction.

    Two rotations racing on PostgreSQL may both find the same key to retire; the second insert then
    breaks the one-active-key constraint and is made again against the key the first one activated.
    """
    for attempt in range(3):
        try:
            return _install_once(fields, actor=actor, action=action, first=first)
        except IntegrityError:
            if first or attempt == 2:
                raise
    raise AssertionError("unreachable")


def _install_once(fields: dict[str, Any], *, actor: str, action: str, first: bool) -> Rotation:
    now = timezone.now()
    with transaction.atomic():
        retiring = list(
            DecisionSigningKey.objects.select_for_update().filter(active=True).exclude(kid=fields["kid"])
            .values_list("pk", "kid")
        )
        if first and retiring:
            raise IntegrityError("a decision signing key is already active")
        published_until = now + timedelta(seconds=overlap_s()) if retiring else None
        DecisionSigningKey.objects.filter(pk__in=[pk for pk, _kid in retiring]).update(
            active=False, retired_at=now, not_after=published_until,
            encrypted_data_key=b"", nonce=b"", encrypted_private_key=b"",
        )
        # A KMS key made active again (its public key, hence its kid, unchanged) reuses its row.
        key, _created = DecisionSigningKey.objects.update_or_create(
            kid=fields["kid"],
            defaults={**fields, "active": True, "activated_at": now, "retired_at": None, "not_after": None},
        )
        retired = [kid for _pk, kid in retiring]
        record_event(actor=actor, action=action, target=key, details=_audit_details(key, retired, published_until))
        transaction.on_commit(forget_signing_keys)  # this process signs with the new key at once
    return Rotation(key, retired, published_until)


def _audit_details(key: DecisionSigningKey, retired: list[str], published_until: datetime | None) -> dict[str, Any]:
    """Which key signs now and how it is kept; never any key material but the public key's id."""
    details: dict[str, Any] = {"kid": key.kid, "signer": "kms" if key.kms_key_id else "gqlgov"}
    if key.kms_key_id:
        details["kms_key_id"] = key.kms_key_id
    else:
        details["encrypted_with"] = key.wrap_kms_key_id or "SECRET_KEY (HKDF)"
    if retired:
        details["retired"] = retired
        details["published_until"] = published_until.isoformat() if published_until else None
    return details


def _new_key_fields() -> dict[str, Any]:
    """A new key's row fields as the settings ask: a KMS key's public key, or a fresh P-256 key encrypted."""
    configured = settings.GQLGOV_DECISION_SIGNING_KMS_KEY_ID
    if configured:
        try:
            jwk = jws.public_jwk(signing_kms.public_key(kms_client(), configured))
        except (*_AWS_ERRORS, ValueError) as error:
            raise SigningUnavailable(f"KMS key {configured} cannot sign decisions: {_reason(error)}") from error
        return {"kid": jws.thumbprint(jwk), "public_jwk": jwk, "kms_key_id": configured, "wrap_kms_key_id": "",
                "encrypted_data_key": b"", "nonce": b"", "encrypted_private_key": b""}
    private_key = ec.generate_private_key(ec.SECP256R1())
    jwk = jws.public_jwk(private_key.public_key())
    kid = jws.thumbprint(jwk)
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")
    envelope = _seal(kid, pem)
    return {"kid": kid, "public_jwk": jwk, "kms_key_id": "", "wrap_kms_key_id": envelope.kms_key_id,
            "encrypted_data_key": envelope.encrypted_data_key, "nonce": envelope.nonce,
            "encrypted_private_key": envelope.ciphertext}


def follows_settings(key: DecisionSigningKey) -> bool:
    """Whether the key is kept as the settings now ask (else the next rotation makes such a key)."""
    if key.kms_key_id or settings.GQLGOV_DECISION_SIGNING_KMS_KEY_ID:
        return key.kms_key_id == settings.GQLGOV_DECISION_SIGNING_KMS_KEY_ID
    return key.wrap_kms_key_id == settings.GQLGOV_DECISION_KEY_WRAP_KMS_KEY_ID


def signer_for(key: DecisionSigningKey) -> jws.Signer:
    """What signs for `key`: KMS, or its private key decrypted here. SigningUnavailable when it
    cannot: a retired key, a key that no longer decrypts (SECRET_KEY or the wrap key changed:
    `rotate_decision_key` needs neither), KMS unreachable."""
    if key.kms_key_id:
        return _reporting_kms_errors(signing_kms.signer(kms_client(), key.kms_key_id), key.kms_key_id)
    if not key.active or not key.encrypted_private_key:
        raise SigningUnavailable(f"Decision signing key {key.kid} is retired.")
    try:
        pem = _unseal(key)
    except InvalidTag as error:
        logger.error("decision signing key %s does not decrypt (SECRET_KEY changed?); run rotate_decision_key",
                     key.kid)
        raise SigningUnavailable("The decision signing key cannot be decrypted; an operator must rotate it.") from error
    except _AWS_ERRORS as error:
        raise SigningUnavailable(f"KMS cannot decrypt the decision signing key: {_reason(error)}") from error
    private_key = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
    assert isinstance(private_key, ec.EllipticCurvePrivateKey)
    return jws.local_signer(private_key)


def _reporting_kms_errors(sign: jws.Signer, key_id: str) -> jws.Signer:
    def signed(signing_input: bytes) -> bytes:
        try:
            return sign(signing_input)
        except _AWS_ERRORS as error:
            raise SigningUnavailable(f"KMS key {key_id} did not sign: {_reason(error)}") from error

    return signed


def _reason(error: BaseException) -> str:
    message = aws_message(error) if isinstance(error, _AWS_ERRORS) else str(error)
    logger.warning("decision signing: %s", message)
    return message


# --- Encryption at rest ----------------------------------------------------------------


def _context(kid: str) -> dict[str, str]:
    """Binds a ciphertext to its key row: moved to another row, it does not decrypt."""
    return {"gqlgov:purpose": "decision-signing-key", "gqlgov:kid": kid}


def _secret_key_wrap() -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_SECRET_KEY_WRAP_INFO)
    return hkdf.derive(settings.SECRET_KEY.encode("utf-8"))


def _aad(kid: str) -> bytes:
    return json.dumps(_context(kid), sort_keys=True, separators=(",", ":")).encode("utf-8")


def _seal(kid: str, pem: str) -> envelope_kms.Envelope:
    wrap_key_id = settings.GQLGOV_DECISION_KEY_WRAP_KMS_KEY_ID
    if wrap_key_id:
        try:
            return envelope_kms.encrypt(kms_client(), wrap_key_id, pem, _context(kid))
        except _AWS_ERRORS as error:
            raise SigningUnavailable(f"KMS key {wrap_key_id} cannot wrap the signing key: {_reason(error)}") from error
    nonce = os.urandom(12)
    ciphertext = AESGCM(_secret_key_wrap()).encrypt(nonce, pem.encode("ascii"), _aad(kid))
    return envelope_kms.Envelope(b"", nonce, ciphertext, "")


def _unseal(key: DecisionSigningKey) -> str:
    envelope = envelope_kms.Envelope(
        bytes(key.encrypted_data_key), bytes(key.nonce), bytes(key.encrypted_private_key), key.wrap_kms_key_id
    )
    if envelope.kms_key_id:
        return envelope_kms.decrypt(kms_client(), envelope, _context(key.kid))
    return AESGCM(_secret_key_wrap()).decrypt(envelope.nonce, envelope.ciphertext, _aad(key.kid)).decode("ascii")


def kms_client() -> Any:
    """The KMS client of both decision-signing keys, one per process (building one costs milliseconds)."""
    return _kms_client(
        settings.GQLGOV_DECISION_KMS_REGION, settings.GQLGOV_DECISION_KMS_ENDPOINT_URL, settings.GQLGOV_AWS_MAX_ATTEMPTS
    )


@functools.lru_cache(maxsize=4)
def _kms_client(region: str, endpoint_url: str, max_attempts: int) -> Any:
    return aws_client("kms", region=region, endpoint_url=endpoint_url, max_attempts=max_attempts)
