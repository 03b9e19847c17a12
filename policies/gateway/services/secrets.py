"""What gqlgov holds under a target's KMS keys: the API key values it generates (envelope-
encrypted, the plaintext never stored), their re-encryption when the key rotates, the audited
reveal of a value, and the check of a run's plan signature.
"""

from __future__ import annotations

import logging
import secrets as pysecrets
import string
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from agents.audit import record_event
from gqlgov.errors import ApiError
from policies.gateway import kms as kms_ops
from policies.gateway.applier import SecretSource
from policies.gateway.aws import aws_message
from policies.gateway.limits import check_api_key_value
from policies.gateway.models import ExportRun, GatewayTarget, TargetSecret
from policies.gateway.services.targets import clients_for

logger = logging.getLogger("gqlgov.export")


class StoredSecrets(SecretSource):
    """API key values generated here and kept envelope-encrypted under the target's KMS key.
    Without a KMS key gqlgov holds no secret and API Gateway generates the values."""

    def __init__(self, target: GatewayTarget, kms: Any) -> None:
        self.target = target
        self.kms = kms

    def value_for(self, agent: str) -> str | None:
        if not self.target.kms_key_id:
            return None
        stored = TargetSecret.objects.filter(target=self.target, agent_name=agent).first()
        if stored is not None:
            return kms_ops.decrypt(self.kms, _envelope(stored), _context(self.target, agent))
        alphabet = string.ascii_letters + string.digits
        value = "".join(pysecrets.choice(alphabet) for _ in range(40))
        check_api_key_value(value)
        envelope = kms_ops.encrypt(self.kms, self.target.kms_key_id, value, _context(self.target, agent))
        with transaction.atomic():
            secret = TargetSecret.objects.create(
                target=self.target,
                agent_name=agent,
                kms_key_id=envelope.kms_key_id,
                encrypted_data_key=envelope.encrypted_data_key,
                nonce=envelope.nonce,
                ciphertext=envelope.ciphertext,
                encrypted_at=timezone.now(),
            )
            record_event(
                actor="system",
                action="export.secret_created",
                target=secret,
                details={"target": self.target.name, "agent": agent, "kms_key_id": envelope.kms_key_id},
            )
        return value

    def remember_key_id(self, agent: str, key_id: str) -> None:
        TargetSecret.objects.filter(target=self.target, agent_name=agent).update(api_key_id=key_id)


def _context(target: GatewayTarget, agent: str) -> dict[str, str]:
    return {"gqlgov:target": target.name, "gqlgov:agent": agent}


def _envelope(secret: TargetSecret) -> kms_ops.Envelope:
    return kms_ops.Envelope(
        bytes(secret.encrypted_data_key), bytes(secret.nonce), bytes(secret.ciphertext), secret.kms_key_id
    )


def rotate_after_deployment(target: GatewayTarget, kms: Any) -> dict[str, Any]:
    """Rotates the target's key on demand and re-encrypts every stored secret with a fresh data key."""
    outcome: dict[str, Any] = {"rotated": False, "reencrypted": 0}
    if settings.GQLGOV_KMS_ROTATE_ON_DEPLOY:
        try:
            kms_ops.rotate(kms, target.kms_key_id)
            outcome["rotated"] = True
        except Exception as exc:  # AWS allows a limited number of on-demand rotations per key
            if not exc.__class__.__module__.startswith("botocore"):
                raise
            outcome["error"] = aws_message(exc)
            logger.warning("on-demand rotation of %s failed: %s", target.kms_key_id, aws_message(exc))
    now = timezone.now()
    with transaction.atomic():
        for secret in TargetSecret.objects.select_for_update().filter(target=target):
            value = kms_ops.decrypt(kms, _envelope(secret), _context(target, secret.agent_name))
            envelope = kms_ops.encrypt(kms, target.kms_key_id, value, _context(target, secret.agent_name))
            TargetSecret.objects.filter(pk=secret.pk).update(
                kms_key_id=envelope.kms_key_id,
                encrypted_data_key=envelope.encrypted_data_key,
                nonce=envelope.nonce,
                ciphertext=envelope.ciphertext,
                encrypted_at=now,
            )
            outcome["reencrypted"] += 1
        if outcome["rotated"]:
            GatewayTarget.objects.filter(pk=target.pk).update(last_rotation_at=now)
        record_event(
            actor="system",
            action="export.key_rotated",
            target=target,
            details={"kms_key_id": target.kms_key_id, **outcome},
        )
    return outcome


def secret_value(*, actor: str, target: GatewayTarget, agent_name: str) -> str:
    """The plaintext API key value of an agent on a target (audited: someone has seen a secret)."""
    secret = TargetSecret.objects.filter(target=target, agent_name=agent_name).first()
    if secret is None:
        raise ApiError("NOT_FOUND", f"gqlgov holds no API key of {agent_name} for {target.name}.", status=404)
    _, kms = clients_for(target)
    value = kms_ops.decrypt(kms, _envelope(secret), _context(target, agent_name))
    with transaction.atomic():
        record_event(
            actor=actor,
            action="export.secret_revealed",
            target=secret,
            details={"target": target.name, "agent": agent_name},
        )
    return value


@dataclass(frozen=True)
class Verification:
    valid: bool
    message: str


def export_verify(*, run: ExportRun) -> Verification:
    """Checks the run's stored signature against its stored plan with the KMS signing key."""
    if not run.signature or not run.plan:
        return Verification(False, f"export #{run.pk} has no signed plan.")
    _, kms = clients_for(run.target)
    if kms_ops.verify_plan(kms, run.signing_key_id, run.plan, run.signature):
        return Verification(
            True,
            f"export #{run.pk}: the signature of plan {run.plan_hash[:16]} is valid "
            f"({run.signing_algorithm}, key {run.signing_key_id}).",
        )
    return Verification(False, f"export #{run.pk}: the signature does NOT match the stored plan.")
