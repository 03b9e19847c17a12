"""The IdP's JWKS endpoint down while agents check with JWTs, behind the production server.

Workers keep verifying with the keys they fetched last; a token naming a key they do not have is
refused with 401 INVALID_TOKEN; a worker that never fetched a key answers 503 IDP_UNAVAILABLE
with Retry-After; never a 500, and no acknowledged decision record is lost.
"""

import os
import time

import pytest

from tests.support import servers
from tests.support.oidc_provider import AGENT_AUDIENCE
from tests.support.production_server import (
    ALLOWED,
    DENIED,
    CheckLoad,
    check_over_http,
    deploy,
    first_traceback,
    server_log,
    wait_until_stored,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]



def test_jwks_endpoint_down_under_load_keeps_cached_keys_working(tmp_path, oidc_provider, throwaway_redis_server):
    with servers.bench_database(tmp_path, os.environ.get("DATABASE_URL")) as database_url:
        deployment = deploy(
            tmp_path,
            database_url,
            throwaway_redis_server.url,
            AGENT_JWT_ISSUER=oidc_provider.issuer,
            AGENT_JWT_AUDIENCE=AGENT_AUDIENCE,
            AGENT_JWT_JWKS_URL=oidc_provider.jwks_url,
            AGENT_JWT_JWKS_CACHE_S="2",
        )  # the scheduled refresh falls due during the outage
        environment = deployment.environment
        environment.manage(
            "create_agent", "jwt-bot", "--kind", "ai", "--group", "bench", "--oidc-subject", "agent-sub-1"
        )
        token = oidc_provider.issue_token(sub="agent-sub-1", exp_in=600)
        with servers.drainer(environment), servers.web_server(environment, "gunicorn", 2) as (base, _master):
            with CheckLoad(base, token, [ALLOWED, DENIED], rate=60) as load:
                time.sleep(3)  # both workers fetch the keys
                oidc_provider.jwks_down = True
                fetches_before = oidc_provider.jwks_requests
                time.sleep(5)
                unknown_kid = [
                    check_over_http(base, oidc_provider.issue_token(sub="agent-sub-1", kid=f"rotated-{n}")) for n in range(6)
                ]
                # A worker started during the outage has no key at all.
                with servers.web_server(environment, "gunicorn", 1) as (fresh_base, _fresh):
                    never_fetched = check_over_http(fresh_base, token)
                fetches_during_outage = oidc_provider.jwks_requests - fetches_before
                answered_during_outage = load.statuses[200]
                oidc_provider.jwks_down = False
                time.sleep(2)
            missing, _audits = wait_until_stored(environment, load.acknowledged, timeout_s=30)

    assert set(load.answers) == {(200, "")}, load.answers  # cached keys: every check answered
    assert answered_during_outage > 300, load.answers
    assert fetches_during_outage >= 2  # the refresh was due and failed: the cached keys carried on
    assert [(r.status_code, r.json()["error"]["code"]) for r in unknown_kid] == [(401, "INVALID_TOKEN")] * 6
    assert never_fetched.status_code == 503, never_fetched.text
    assert never_fetched.json()["error"]["code"] == "IDP_UNAVAILABLE"
    assert int(never_fetched.headers["Retry-After"]) > 0
    assert missing == set(), f"{len(missing)} acknowledged decision records lost"
    log = server_log(tmp_path)
    assert token.rsplit(".", 1)[-1] not in log  # the signature never reaches the logs
    assert "Traceback" not in log, first_traceback(log)
