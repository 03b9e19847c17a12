"""API token lifecycle: issue, use, expire, revoke, rotate with grace."""

from datetime import timedelta
from unittest import mock

import pytest
from django.core.management import call_command
from django.utils import timezone

from agents.models import ApiToken, AuditEvent
from agents.services import token_revoke, token_rotate
from agents.tokens import TOKEN_PREFIX, hash_secret, parse_token
from tests.conftest import bearer, issue_token_for, make_principal

pytestmark = pytest.mark.django_db

ME = "/api/v1/agents/me"


def error_code(response) -> str:
    return response.json()["error"]["code"]


def test_issued_token_authenticates_its_agent(client, agent, agent_token):
    response = client.get(ME, **bearer(agent_token))
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "support-bot"
    assert body["kind"] == "ai"
    assert body["groups"] == ["support"]
    assert body["attributes"] == {"team": "support"}
    assert body["authenticated_by"] == "api_token"


def test_token_has_recognisable_prefix_and_256_bits_of_secret(agent):
    plaintext = issue_token_for(agent)
    assert plaintext.startswith(TOKEN_PREFIX)
    parsed = parse_token(plaintext)
    assert parsed is not None
    assert len(parsed.secret) == 43  # 32 random bytes, base64url


def test_only_a_hash_of_the_token_is_stored(agent):
    plaintext = issue_token_for(agent)
    stored = ApiToken.objects.get()
    secret = parse_token(plaintext).secret
    assert stored.secret_hash == hash_secret(secret)
    for value in ApiToken.objects.values_list():
        assert secret not in str(value)
    for details in AuditEvent.objects.values_list("details", flat=True):
        assert secret not in str(details)


def test_issue_token_command_prints_token_as_last_line(agent, capsys):
    call_command("issue_token", "support-bot", "--expires-in", "30")
    last_line = capsys.readouterr().out.strip().splitlines()[-1]
    assert parse_token(last_line) is not None
    token = ApiToken.objects.get()
    assert token.expires_at > timezone.now() + timedelta(days=29)


def test_expired_token_gets_401_token_expired(client, agent):
    plaintext = issue_token_for(agent, expires_in_days=1)
    ApiToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = client.get(ME, **bearer(plaintext))
    assert response.status_code == 401
    assert error_code(response) == "TOKEN_EXPIRED"


def test_revoked_token_gets_401_token_revoked(client, agent, agent_token):
    call_command("revoke_token", ApiToken.objects.get().prefix)
    response = client.get(ME, **bearer(agent_token))
    assert response.status_code == 401
    assert error_code(response) == "TOKEN_REVOKED"
    assert AuditEvent.objects.filter(action="token.revoked").count() == 1


def test_tampered_token_gets_401_invalid_token(client, agent, agent_token):
    tampered = agent_token[:-1] + ("A" if agent_token[-1] != "A" else "B")
    response = client.get(ME, **bearer(tampered))
    assert response.status_code == 401
    assert error_code(response) == "INVALID_TOKEN"


def test_rotated_token_keeps_working_during_grace_then_stops(client, agent, agent_token):
    old = ApiToken.objects.get()
    _new, new_plaintext = token_rotate(actor="test", token=old, grace_seconds=3600)
    assert client.get(ME, **bearer(agent_token)).status_code == 200
    assert client.get(ME, **bearer(new_plaintext)).status_code == 200

    # The grace period ends by the clock (a cached token row is still checked against the time).
    after_grace = timezone.now() + timedelta(seconds=3601)
    with mock.patch("agents.auth.timezone.now", return_value=after_grace):
        response = client.get(ME, **bearer(agent_token))
        assert response.status_code == 401
        assert error_code(response) == "TOKEN_REVOKED"
        assert client.get(ME, **bearer(new_plaintext)).status_code == 200


def test_rotation_without_grace_stops_the_old_token_at_once(client, agent, agent_token):
    _new, new_plaintext = token_rotate(actor="test", token=ApiToken.objects.get())
    assert client.get(ME, **bearer(agent_token)).status_code == 401
    assert client.get(ME, **bearer(new_plaintext)).status_code == 200
    assert AuditEvent.objects.filter(action="token.rotated").count() == 1


def test_rotating_a_revoked_token_is_refused(agent, agent_token):
    token = token_revoke(actor="test", token=ApiToken.objects.get())
    with pytest.raises(Exception, match="revoked"):
        token_rotate(actor="test", token=token)


def test_last_used_is_recorded_but_not_rewritten_on_every_request(client, agent, agent_token):
    client.get(ME, **bearer(agent_token))
    first_use = ApiToken.objects.get().last_used_at
    assert first_use is not None
    client.get(ME, **bearer(agent_token))
    assert ApiToken.objects.get().last_used_at == first_use


def test_suspended_agent_is_refused_on_its_next_request(client, agent, agent_token):
    assert client.get(ME, **bearer(agent_token)).status_code == 200
    call_command("suspend_agent", "support-bot")
    response = client.get(ME, **bearer(agent_token))
    assert response.status_code == 403
    assert error_code(response) == "AGENT_SUSPENDED"
    call_command("resume_agent", "support-bot")
    assert client.get(ME, **bearer(agent_token)).status_code == 200


def test_tokens_cannot_be_issued_to_a_suspended_agent(agent):
    call_command("suspend_agent", "support-bot")
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="AGENT_SUSPENDED"):
        call_command("issue_token", "support-bot")


def test_humans_and_services_can_hold_tokens_too(client, db):
    for kind in ("human", "service"):
        principal = make_principal(f"{kind}-caller", kind)
        response = client.get(ME, **bearer(issue_token_for(principal)))
        assert response.json()["kind"] == kind


def test_an_unknown_lookup_id_is_hashed_and_compared_like_a_known_one(client, agent_token):
    from agents.tokens import secret_matches

    unknown_id = f"gqg_{'0' * 12}_{parse_token(agent_token).secret}"
    wrong_secret = agent_token[:-1] + ("A" if not agent_token.endswith("A") else "B")
    with mock.patch("agents.auth.secret_matches", wraps=secret_matches) as compared:
        answers = [client.get(ME, **bearer(probe)) for probe in (wrong_secret, unknown_id)]
    assert [error_code(answer) for answer in answers] == ["INVALID_TOKEN"] * 2
    assert compared.call_count == 2
