"""The per-process identity cache never outlives a suspension, revocation or rotation."""

import pytest

from agents.identity_cache import identity_cache
from agents.models import ApiToken
from agents.services import principal_resume, principal_suspend, principal_update, token_revoke, token_rotate
from tests.conftest import bearer

pytestmark = pytest.mark.django_db(transaction=True)

ME = "/api/v1/agents/me"


@pytest.fixture(autouse=True)
def _cache(redis_settings):
    identity_cache.clear()
    yield
    identity_cache.clear()


def test_a_cached_token_needs_no_database_query(client, agent_token, django_assert_max_num_queries):
    assert client.get(ME, **bearer(agent_token)).status_code == 200
    with django_assert_max_num_queries(0):
        assert client.get(ME, **bearer(agent_token)).status_code == 200


def test_suspending_takes_effect_on_the_next_request(client, agent, agent_token):
    assert client.get(ME, **bearer(agent_token)).status_code == 200
    principal_suspend(actor="test", principal=agent)
    response = client.get(ME, **bearer(agent_token))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "AGENT_SUSPENDED"
    principal_resume(actor="test", principal=agent)
    assert client.get(ME, **bearer(agent_token)).status_code == 200


def test_revoking_takes_effect_on_the_next_request(client, agent_token):
    assert client.get(ME, **bearer(agent_token)).status_code == 200
    token_revoke(actor="test", token=ApiToken.objects.get())
    assert client.get(ME, **bearer(agent_token)).status_code == 401


def test_rotation_without_grace_stops_a_cached_token(client, agent_token):
    assert client.get(ME, **bearer(agent_token)).status_code == 200
    _new, plaintext = token_rotate(actor="test", token=ApiToken.objects.get())
    assert client.get(ME, **bearer(agent_token)).status_code == 401
    assert client.get(ME, **bearer(plaintext)).status_code == 200


def test_group_changes_reach_the_next_request(client, agent, agent_token):
    assert client.get(ME, **bearer(agent_token)).json()["groups"] == ["support"]
    principal_update(actor="test", principal=agent, groups=["billing"])
    assert client.get(ME, **bearer(agent_token)).json()["groups"] == ["billing"]


def test_a_wrong_secret_with_a_cached_lookup_id_is_refused(client, agent_token):
    assert client.get(ME, **bearer(agent_token)).status_code == 200
    forged = agent_token[:-4] + ("aaaa" if not agent_token.endswith("aaaa") else "bbbb")
    assert client.get(ME, **bearer(forged)).status_code == 401


def test_a_restarted_redis_never_revives_a_stale_entry(client, agent, agent_token, redis_settings):
    from agents.identity_cache import GENERATION_KEY
    from gqlgov.redis import get_redis

    assert client.get(ME, **bearer(agent_token)).status_code == 200
    get_redis().delete(GENERATION_KEY)  # what a restart without persistence leaves
    principal_suspend(actor="test", principal=agent)
    assert client.get(ME, **bearer(agent_token)).status_code == 403


def test_an_unknown_lookup_id_costs_what_a_known_one_with_a_wrong_secret_costs(
    client, agent_token, django_assert_num_queries
):
    from unittest import mock

    from agents.tokens import parse_token, secret_matches

    secret = parse_token(agent_token).secret
    wrong_secret = agent_token[:-4] + ("aaaa" if not agent_token.endswith("aaaa") else "bbbb")
    unknown_id = f"gqg_{'0' * 12}_{secret}"
    for probe in (wrong_secret, unknown_id):
        assert client.get(ME, **bearer(probe)).status_code == 401  # first probe: a query each
    with mock.patch("agents.auth.secret_matches", wraps=secret_matches) as compared:
        for probe in (wrong_secret, unknown_id):
            with django_assert_num_queries(0):
                assert client.get(ME, **bearer(probe)).json()["error"]["code"] == "INVALID_TOKEN"
    assert compared.call_count == 2  # one hash comparison on either path
