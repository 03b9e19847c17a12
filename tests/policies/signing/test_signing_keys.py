"""Decision signing keys: made on first use, rotated by `manage.py rotate_decision_key` (audited),
encrypted at rest, and read by the check from this process's memory."""

import json
import time
from datetime import timedelta
from io import StringIO

import jwt
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.core.management import call_command
from django.db import connection

from agents.models import AuditEvent
from policies.models import DecisionSigningKey
from policies.signing import signer
from tests.policies.signing.conftest import ORDERS, check, fetch_jwks, verify

pytestmark = pytest.mark.django_db


def rotate() -> str:
    out = StringIO()
    call_command("rotate_decision_key", stdout=out)
    return out.getvalue()


def kid_of(token: str) -> str:
    return jwt.get_unverified_header(token)["kid"]


def test_the_first_key_is_made_by_the_first_allow_and_audited(client, shop, agent_token):
    assert not DecisionSigningKey.objects.exists()

    token = check(client, agent_token, query=ORDERS).json()["decision_token"]
    check(client, agent_token, query=ORDERS)

    key = DecisionSigningKey.objects.get()
    assert key.active and key.activated_at is not None and key.retired_at is None
    assert kid_of(token) == key.kid
    event = AuditEvent.objects.get(action="decision_key.created")
    assert (event.actor, event.target_id) == ("system", str(key.pk))
    assert event.details == {"kid": key.kid, "signer": "gqlgov", "encrypted_with": "SECRET_KEY (HKDF)"}


def test_rotation_activates_a_new_key_and_publishes_the_old_one_until_its_tokens_expired(settings):
    settings.GQLGOV_DECISION_TOKEN_TTL_S = 120
    settings.GQLGOV_POLICY_REFRESH_S = 1.5
    first = rotate()
    old = DecisionSigningKey.objects.get()

    output = rotate()

    old.refresh_from_db()
    new = DecisionSigningKey.objects.get(active=True)
    assert new.kid != old.kid
    assert not old.active
    # A token's 120 s, the 2 s another process may sign with the old key, and 30 s of clock leeway.
    assert old.not_after == old.retired_at + timedelta(seconds=120 + 2 + 30)
    assert bytes(old.encrypted_private_key) == b"" and bytes(old.nonce) == b""  # it can never sign again
    assert first == f"Decision signing key {old.kid} is active (signed by gqlgov).\n"
    assert output == (f"Decision signing key {new.kid} is active (signed by gqlgov).\n"
                      f"Key {old.kid} is retired; the JWK Set publishes it until "
                      f"{old.not_after.isoformat(timespec='seconds')}.\n")
    event = AuditEvent.objects.get(action="decision_key.rotated", target_id=str(new.pk))
    assert event.actor.startswith("cli:")
    assert event.details == {"kid": new.kid, "signer": "gqlgov", "encrypted_with": "SECRET_KEY (HKDF)",
                             "retired": [old.kid], "published_until": old.not_after.isoformat()}


def test_no_private_key_is_stored_in_clear_and_secret_key_derives_the_one_that_encrypts_it(settings):
    rotate()
    key = DecisionSigningKey.objects.get()
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM policies_decisionsigningkey")
        stored = b"".join(bytes(value) if isinstance(value, bytes | memoryview) else str(value).encode()
                          for value in cursor.fetchone())

    # What the documentation says it is: AES-256-GCM, the key from SECRET_KEY by HKDF-SHA256.
    wrap = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=b"gqlgov decision signing key wrap v1").derive(settings.SECRET_KEY.encode())
    aad = json.dumps({"gqlgov:kid": key.kid, "gqlgov:purpose": "decision-signing-key"}, separators=(",", ":"))
    pem = AESGCM(wrap).decrypt(bytes(key.nonce), bytes(key.encrypted_private_key), aad.encode())
    private_key = serialization.load_pem_private_key(pem, password=None)
    raw = private_key.private_numbers().private_value.to_bytes(32, "big")
    der = private_key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    assert pem not in stored and b"PRIVATE KEY" not in stored
    assert raw not in stored and der not in stored


def test_the_audit_trail_holds_no_key_material():
    rotate()
    rotate()
    key = DecisionSigningKey.objects.get(active=True)

    details = json.dumps(list(AuditEvent.objects.filter(action__startswith="decision_key.").values("details")))

    assert bytes(key.encrypted_private_key).hex() not in details
    assert key.public_jwk["x"] not in details and "PRIVATE" not in details


def test_a_warm_signer_reads_nothing_from_the_database(django_assert_num_queries):
    signer.active_key()  # makes the first key and loads it

    with django_assert_num_queries(0):
        for _ in range(5):
            signer.active_key()


def test_the_process_that_rotated_signs_with_the_new_key_at_once(client, shop, agent_token, on_commit):
    before = kid_of(check(client, agent_token, query=ORDERS).json()["decision_token"])
    with on_commit():
        rotate()

    after = kid_of(check(client, agent_token, query=ORDERS).json()["decision_token"])

    assert before != after == DecisionSigningKey.objects.get(active=True).kid


def test_other_processes_see_a_rotation_within_the_refresh_interval(client, shop, agent_token, settings):
    # This test's transaction never commits, so the rotation reaches the signer as another
    # process's would: through the database, once the cached key is older than the interval.
    settings.GQLGOV_POLICY_REFRESH_S = 2
    before = kid_of(check(client, agent_token, query=ORDERS).json()["decision_token"])
    rotate()
    assert kid_of(check(client, agent_token, query=ORDERS).json()["decision_token"]) == before

    time.sleep(2.1)

    assert kid_of(check(client, agent_token, query=ORDERS).json()["decision_token"]) != before


def test_a_retired_key_leaves_the_jwks_once_its_last_token_expired(client, settings):
    settings.GQLGOV_POLICY_REFRESH_S = 0  # the JWK Set is read afresh on every request
    rotate()
    rotate()
    retired, active = DecisionSigningKey.objects.get(active=False), DecisionSigningKey.objects.get(active=True)
    assert {key.key_id for key in fetch_jwks(client).keys} == {retired.kid, active.kid}

    # What time does: the retired key's not_after passes.
    DecisionSigningKey.objects.filter(pk=retired.pk).update(not_after=retired.retired_at - timedelta(seconds=1))

    assert {key.key_id for key in fetch_jwks(client).keys} == {active.kid}


def test_a_token_signed_before_a_rotation_still_verifies_after_it(client, shop, agent_token, on_commit):
    token = check(client, agent_token, query=ORDERS).json()["decision_token"]
    with on_commit():
        rotate()

    assert verify(token, fetch_jwks(client))["sub"] == "support-bot"


def test_a_key_kept_otherwise_than_the_settings_ask_is_named_in_a_warning_until_rotated(settings, caplog):
    rotate()
    settings.GQLGOV_DECISION_KEY_WRAP_KMS_KEY_ID = "arn:aws:kms:us-east-1:123456789012:key/later"

    signer.active_key()

    assert f"{DecisionSigningKey.objects.get().kid} is not kept as the KMS settings ask" in caplog.text
