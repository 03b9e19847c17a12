"""Agents authenticating with JWTs from a real OIDC provider on loopback."""

import time

import jwt
import pytest

from agents.models import AuditEvent, Principal
from agents.services import principal_suspend
from tests.conftest import bearer, make_principal
from tests.support.oidc_provider import AGENT_AUDIENCE

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("oidc_settings")]

ME = "/api/v1/agents/me"


@pytest.fixture
def jwt_agent(db) -> Principal:
    return make_principal("jwt-bot", "ai", oidc_subject="agent-sub-1", groups=["support"])


def call_me(client, token: str):
    return client.get(ME, **bearer(token))


def error_code(response) -> str:
    return response.json()["error"]["code"]


def test_valid_jwt_authenticates_the_registered_agent(client, oidc_provider, jwt_agent):
    token = oidc_provider.issue_token(extra_claims={"groups": ["agents"], "secret_note": "do not echo"})
    response = call_me(client, token)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["name"] == "jwt-bot"
    assert body["authenticated_by"] == "jwt"
    assert body["claims"]["sub"] == "agent-sub-1"
    assert body["claims"]["groups"] == ["agents"]
    assert "secret_note" not in body["claims"]
    assert token not in response.content.decode()


@pytest.mark.parametrize(
    ("token_args", "reason"),
    [
        ({"issuer": "https://evil.example.com"}, "issuer"),
        ({"aud": "some-other-api"}, "audience"),
        ({"nbf": int(time.time()) + 3600}, "not yet valid"),
        ({"kid": "never-published"}, "unknown key"),
    ],
    ids=["wrong-issuer", "wrong-audience", "nbf-in-future", "unknown-kid"],
)
def test_jwt_failing_a_check_gets_401_invalid_token(client, oidc_provider, jwt_agent, token_args, reason):
    response = call_me(client, oidc_provider.issue_token(**token_args))
    assert response.status_code == 401
    assert error_code(response) == "INVALID_TOKEN"
    assert reason in response.json()["error"]["message"].lower()


def test_expired_jwt_gets_401_token_expired(client, oidc_provider, jwt_agent):
    response = call_me(client, oidc_provider.issue_token(exp_in=-120))
    assert response.status_code == 401
    assert error_code(response) == "TOKEN_EXPIRED"


def test_expiry_within_the_leeway_is_tolerated(client, oidc_provider, jwt_agent, settings):
    settings.AGENT_JWT_LEEWAY_S = 30
    assert call_me(client, oidc_provider.issue_token(exp_in=-5)).status_code == 200


def test_unknown_kid_refetches_the_jwks_once_however_many_tokens_name_it(client, oidc_provider, jwt_agent):
    assert call_me(client, oidc_provider.issue_token()).status_code == 200
    assert oidc_provider.jwks_requests == 1
    for attempt in range(5):
        response = call_me(client, oidc_provider.issue_token(kid=f"made-up-{attempt}"))
        assert response.status_code == 401
        assert error_code(response) == "INVALID_TOKEN"
    assert oidc_provider.jwks_requests == 2


def test_rotated_key_is_picked_up_without_restart(client, oidc_provider, jwt_agent):
    old_token = oidc_provider.issue_token()
    assert call_me(client, old_token).status_code == 200
    oidc_provider.rotate_key()
    assert call_me(client, oidc_provider.issue_token()).status_code == 200
    assert error_code(call_me(client, old_token)) == "INVALID_TOKEN"


def test_cached_key_keeps_working_while_the_jwks_endpoint_is_down(client, oidc_provider, jwt_agent, settings):
    settings.AGENT_JWT_JWKS_CACHE_S = 0  # every request wants fresh keys
    assert call_me(client, oidc_provider.issue_token()).status_code == 200
    oidc_provider.jwks_down = True
    assert call_me(client, oidc_provider.issue_token()).status_code == 200
    assert oidc_provider.jwks_requests == 2


def test_jwks_endpoint_down_with_nothing_cached_gets_503(client, oidc_provider, jwt_agent):
    oidc_provider.jwks_down = True
    response = call_me(client, oidc_provider.issue_token())
    assert response.status_code == 503
    assert error_code(response) == "IDP_UNAVAILABLE"


@pytest.mark.parametrize(
    ("algorithm", "key"), [("none", None), ("HS256", "shared-secret-of-at-least-32-bytes!")]
)
def test_unsigned_or_symmetric_jwt_is_refused(client, oidc_provider, jwt_agent, algorithm, key):
    claims = jwt.decode(oidc_provider.issue_token(), options={"verify_signature": False})
    forged = jwt.encode(claims, key, algorithm=algorithm, headers={"kid": oidc_provider.kid})
    response = call_me(client, forged)
    assert response.status_code == 401
    assert error_code(response) == "INVALID_TOKEN"
    assert oidc_provider.jwks_requests == 0


def test_unknown_subject_gets_401_unknown_agent(client, oidc_provider):
    response = call_me(client, oidc_provider.issue_token(sub="nobody-registered-me"))
    assert response.status_code == 401
    assert error_code(response) == "UNKNOWN_AGENT"
    assert not Principal.objects.filter(oidc_subject="nobody-registered-me").exists()


def test_auto_provisioning_creates_an_audited_ai_principal(client, oidc_provider, settings):
    settings.AGENT_JWT_AUTO_PROVISION = True
    response = call_me(client, oidc_provider.issue_token(sub="New Agent/42"))
    assert response.status_code == 200
    principal = Principal.objects.get(oidc_subject="New Agent/42")
    assert (principal.kind, principal.name) == ("ai", "new-agent-42")
    event = AuditEvent.objects.get(action="principal.created", target_id=str(principal.pk))
    assert event.actor == f"idp:{oidc_provider.issuer}"


@pytest.mark.parametrize("claim", ["client_id", "azp"])
def test_token_without_sub_is_mapped_by_its_client(client, oidc_provider, claim):
    make_principal("ci-bot", "service", oidc_subject="ci-client")
    response = call_me(client, oidc_provider.issue_token(sub=None, extra_claims={claim: "ci-client"}))
    assert response.status_code == 200
    assert response.json()["name"] == "ci-bot"


def test_token_with_neither_sub_nor_client_is_refused(client, oidc_provider):
    response = call_me(client, oidc_provider.issue_token(sub=None))
    assert error_code(response) == "INVALID_TOKEN"


def test_suspended_principal_gets_403_agent_suspended(client, oidc_provider, jwt_agent):
    principal_suspend(actor="test", principal=jwt_agent)
    response = call_me(client, oidc_provider.issue_token())
    assert response.status_code == 403
    assert error_code(response) == "AGENT_SUSPENDED"


def test_jwt_is_refused_clearly_when_jwt_auth_is_not_configured(client, oidc_provider, jwt_agent, settings):
    settings.AGENT_JWT_ISSUER = ""
    response = call_me(client, oidc_provider.issue_token())
    assert response.status_code == 401
    assert error_code(response) == "INVALID_TOKEN"
    assert "not configured" in response.json()["error"]["message"]


def test_token_for_any_configured_audience_is_accepted(client, oidc_provider, jwt_agent, settings):
    settings.AGENT_JWT_AUDIENCE = ["first-api", AGENT_AUDIENCE]
    assert call_me(client, oidc_provider.issue_token(aud=[AGENT_AUDIENCE, "other"])).status_code == 200


@pytest.mark.parametrize(
    ("claim", "value"),
    [
        ("exp", str(int(time.time()) + 300)),
        ("exp", 1e308),
        ("exp", 2**70),
        ("exp", float(int(time.time()) + 300)),
        ("nbf", str(int(time.time()) - 10)),
        ("iat", -1),
        ("iat", True),
    ],
    ids=["exp-string", "exp-1e308", "exp-2**70", "exp-float", "nbf-string", "iat-negative", "iat-boolean"],
)
def test_a_time_claim_that_is_not_a_sane_integer_gets_401_invalid_token(client, oidc_provider, jwt_agent, claim, value):
    response = call_me(client, oidc_provider.issue_token(extra_claims={claim: value}))
    assert response.status_code == 401
    assert error_code(response) == "INVALID_TOKEN"
    assert f"the {claim} claim" in response.json()["error"]["message"]


def test_a_worker_whose_first_jwks_fetches_failed_serves_again_within_the_backoff_once_the_idp_is_back(
    client, oidc_provider, jwt_agent
):
    token = oidc_provider.issue_token()
    oidc_provider.stop()  # connections refused
    refused = [call_me(client, token) for _ in range(3)]
    assert [(r.status_code, error_code(r)) for r in refused] == [(503, "IDP_UNAVAILABLE")] * 3
    assert refused[0]["Retry-After"] == "1"

    oidc_provider.start()
    back = time.monotonic()
    statuses = []
    while not statuses or (statuses[-1] == 503 and time.monotonic() - back < 10):
        statuses.append(call_me(client, token).status_code)
        time.sleep(0.05)

    assert statuses[-1] == 200, statuses
    assert time.monotonic() - back < 2.5  # the first retry comes one second after the first failure
    assert oidc_provider.jwks_requests == 1  # the checks inside the backoff fetched nothing


def test_concurrent_requests_during_an_outage_fetch_the_jwks_once_per_backoff_window(oidc_provider):
    from concurrent.futures import ThreadPoolExecutor

    from agents.jwt import SigningKeysUnavailable, jwks_keys

    oidc_provider.jwks_down = True
    keys = jwks_keys(oidc_provider.jwks_url)

    def ask(kid: str) -> str:
        try:
            keys.signing_key(kid)
        except SigningKeysUnavailable as exc:
            return exc.code
        return "ok"

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(ask, [oidc_provider.kid, *(f"made-up-{n}" for n in range(15))]))

    assert answers == ["IDP_UNAVAILABLE"] * 16
    assert oidc_provider.jwks_requests == 1


@pytest.mark.slow
def test_failed_jwks_fetches_are_retried_after_one_then_two_then_four_seconds(oidc_provider):
    from agents.jwt import SigningKeysUnavailable, jwks_keys

    oidc_provider.jwks_down = True
    keys = jwks_keys(oidc_provider.jwks_url)
    started, retry_after = time.monotonic(), []
    while time.monotonic() - started < 4:
        with pytest.raises(SigningKeysUnavailable) as refused:
            keys.signing_key(oidc_provider.kid)
        retry_after.append(refused.value.headers["Retry-After"])
        time.sleep(0.05)

    assert oidc_provider.jwks_requests == 3  # at 0, 1 and 3 s; the next is due at 7 s
    assert retry_after[0] == "1" and retry_after[-1] == "4"
