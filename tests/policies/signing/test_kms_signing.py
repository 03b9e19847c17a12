"""AWS KMS and decision signing, against a moto server over HTTP: a KMS asymmetric key that signs
(its private key never leaves KMS), and a KMS key that envelope-encrypts the keys gqlgov holds."""

from io import StringIO

import boto3
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.core.management import CommandError, call_command

from agents.models import AuditEvent
from policies.checks.caches import clear_caches
from policies.models import DecisionSigningKey
from tests.policies.signing.conftest import ORDERS, check, fetch_jwks, verify
from tests.support.ports import free_port

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


@pytest.fixture
def kms(moto_url, settings):
    settings.GQLGOV_DECISION_KMS_ENDPOINT_URL = moto_url
    settings.GQLGOV_DECISION_KMS_REGION = "us-east-1"
    return boto3.client("kms", region_name="us-east-1", endpoint_url=moto_url)


def signing_key(kms, spec="ECC_NIST_P256") -> str:
    return kms.create_key(KeySpec=spec, KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]


def rotate() -> str:
    out = StringIO()
    call_command("rotate_decision_key", stdout=out)
    return out.getvalue()


def test_a_kms_key_signs_and_gqlgov_publishes_its_public_key_holding_no_private_key(
        client, shop, agent_token, kms, settings):
    settings.GQLGOV_DECISION_SIGNING_KMS_KEY_ID = key_id = signing_key(kms)

    token = check(client, agent_token, query=ORDERS).json()["decision_token"]

    claims = verify(token, fetch_jwks(client))  # KMS's DER signature went out as JOSE's r || s
    assert claims["sub"] == "support-bot"
    key = DecisionSigningKey.objects.get()
    assert key.kms_key_id == key_id and jwt.get_unverified_header(token)["kid"] == key.kid
    assert bytes(key.encrypted_private_key) == b"" and bytes(key.encrypted_data_key) == b""
    published = serialization.load_der_public_key(kms.get_public_key(KeyId=key_id)["PublicKey"])
    assert jwt.PyJWK(key.public_jwk, "ES256").key.public_numbers() == published.public_numbers()
    assert AuditEvent.objects.get(action="decision_key.created").details == {
        "kid": key.kid, "signer": "kms", "kms_key_id": key_id}


def test_rotating_to_another_kms_key_keeps_the_previous_one_published(client, shop, agent_token, kms, settings,
                                                                     on_commit):
    settings.GQLGOV_DECISION_SIGNING_KMS_KEY_ID = first = signing_key(kms)
    before = check(client, agent_token, query=ORDERS).json()["decision_token"]
    with pytest.raises(CommandError, match=r"CONFLICT: KMS key .* already signs decisions"):
        rotate()

    settings.GQLGOV_DECISION_SIGNING_KMS_KEY_ID = second = signing_key(kms)
    with on_commit():
        output = rotate()
    after = check(client, agent_token, query=ORDERS).json()["decision_token"]

    assert f"(signed by KMS key {second})" in output and "is retired" in output
    jwks = fetch_jwks(client)
    assert verify(before, jwks)["decision_id"] != verify(after, jwks)["decision_id"]
    assert DecisionSigningKey.objects.get(active=False).kms_key_id == first


def test_a_kms_key_that_cannot_sign_es256_answers_503_never_a_500(client, shop, agent_token, kms, settings):
    settings.GQLGOV_DECISION_SIGNING_KMS_KEY_ID = signing_key(kms, "RSA_2048")

    response = check(client, agent_token, query=ORDERS)

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "DECISION_SIGNING_UNAVAILABLE"
    assert "ES256 needs ECC_NIST_P256" in response.json()["error"]["message"]
    with pytest.raises(CommandError, match="DECISION_SIGNING_UNAVAILABLE"):
        rotate()
    assert not DecisionSigningKey.objects.exists()


def test_kms_out_of_reach_answers_503_with_retry_after(client, shop, agent_token, aws_credentials, settings):
    settings.GQLGOV_DECISION_KMS_ENDPOINT_URL = f"http://127.0.0.1:{free_port()}"  # nothing listens
    settings.GQLGOV_AWS_MAX_ATTEMPTS = 1
    settings.GQLGOV_DECISION_SIGNING_KMS_KEY_ID = "arn:aws:kms:us-east-1:123456789012:key/absent"

    response = check(client, agent_token, query=ORDERS)

    assert response.status_code == 503
    assert response["Retry-After"] == "2"


def test_with_a_wrap_key_the_private_key_is_encrypted_under_a_kms_data_key(client, shop, agent_token, kms, settings):
    settings.GQLGOV_DECISION_KEY_WRAP_KMS_KEY_ID = wrap = kms.create_key()["KeyMetadata"]["Arn"]
    token = check(client, agent_token, query=ORDERS).json()["decision_token"]
    key = DecisionSigningKey.objects.get()

    context = {"gqlgov:purpose": "decision-signing-key", "gqlgov:kid": key.kid}
    data_key = kms.decrypt(CiphertextBlob=bytes(key.encrypted_data_key), EncryptionContext=context)["Plaintext"]
    aad = b'{"gqlgov:kid":"%s","gqlgov:purpose":"decision-signing-key"}' % key.kid.encode()
    pem = AESGCM(data_key).decrypt(bytes(key.nonce), bytes(key.encrypted_private_key), aad)
    private_key = serialization.load_pem_private_key(pem, password=None)
    assert key.wrap_kms_key_id == wrap
    assert private_key.public_key().public_numbers() == jwt.PyJWK(key.public_jwk, "ES256").key.public_numbers()
    assert AuditEvent.objects.get(action="decision_key.created").details["encrypted_with"] == wrap
    # SECRET_KEY plays no part: a process with another one still signs.
    settings.SECRET_KEY = "a-different-secret-key-entirely-for-this-process"
    clear_caches()
    again = check(client, agent_token, query=ORDERS).json()["decision_token"]
    assert jwt.get_unverified_header(again)["kid"] == jwt.get_unverified_header(token)["kid"] == key.kid
