"""Checks on behalf of a person against real Redis: the limiter's one script charges the agent and
the person together (or neither), and the record, drained from the stream, names both."""

import pytest

from gqlgov.redis import get_redis
from policies.checks import drainer
from policies.models import Decision
from tests.conftest import bearer
from tests.policies.delegation import BOTH_ALLOW, PERSON_SUB, check, delegation_policy, make_person

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True),
              pytest.mark.usefixtures("oidc_settings", "redis_settings")]


@pytest.fixture
def person_token(oidc_provider, db) -> str:
    make_person()
    return oidc_provider.issue_token(sub=PERSON_SUB)


def limiter_keys(settings) -> set[str]:
    prefix = settings.GQLGOV_RATE_LIMIT_KEY_PREFIX
    return {key.decode() if isinstance(key, bytes) else key for key in get_redis().scan_iter(match=f"{prefix}*")}


def test_one_check_charges_the_agent_and_the_person_in_redis(client, shop_schema, agent_token, person_token, settings):
    delegation_policy(agent_limits="{requests: 10, per: minute}", person_limits="{requests: 3, per: minute}")

    response = check(client, agent_token, BOTH_ALLOW, person_token=person_token)

    assert response.status_code == 200, response.content
    prefix = settings.GQLGOV_RATE_LIMIT_KEY_PREFIX
    assert limiter_keys(settings) == {f"{prefix}{{support-bot}}:rule:support-reads:requests:60",
                                      f"{prefix}{{alice}}:rule:finance-reads:requests:60"}


def test_a_refusal_by_the_persons_limit_charges_the_agent_nothing(client, shop_schema, agent_token, person_token):
    delegation_policy(agent_limits="{requests: 2, per: minute}", person_limits="{requests: 1, per: minute}")
    assert check(client, agent_token, BOTH_ALLOW, person_token=person_token).status_code == 200

    refused = check(client, agent_token, BOTH_ALLOW, person_token=person_token)

    assert refused.status_code == 429
    assert refused.json()["error"]["details"]["side"] == "delegator"
    # The agent's limit (2 a minute) has one request left: the refused check took none of it.
    alone = check(client, agent_token, BOTH_ALLOW)
    assert alone.status_code == 200
    assert alone.json()["rate_limit"]["remaining"] == 0


def test_a_record_drained_from_the_stream_names_the_person(client, shop_schema, agent, agent_token, person_token):
    delegation_policy()
    body = check(client, agent_token, BOTH_ALLOW, person_token=person_token).json()

    shown = client.get(f"/api/v1/decisions/{body['decision_id']}", **bearer(agent_token))

    assert shown.status_code == 200
    assert shown.json()["on_behalf_of"] == "alice"
    drainer.drain()
    record = Decision.objects.get(pk=body["decision_id"])
    assert (record.principal, record.delegator.name, record.delegator_name) == (agent, "alice", "alice")
