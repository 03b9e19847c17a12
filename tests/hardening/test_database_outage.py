"""The database away: restarted under load behind the production server, or failing one call.

Checks that need the database while it is away answer 503 DATABASE_UNAVAILABLE with Retry-After,
never 500, also from a worker that booted meanwhile; gqlgov recovers without a restart (CONN_HEALTH_CHECKS replaces the dead connections);
every acknowledged decision record and mutation-check audit event reaches the database, and the
audit chain still verifies.
"""

import json
import time

import pytest
from django.db import OperationalError

from agents.tokens import parse_token
from policies.checks import drainer, records
from policies.models import Decision
from tests.conftest import bearer
from tests.support import servers
from tests.support.postgres_server import PostgresCluster, postgres_bindir
from tests.support.production_server import (
    ALLOWED,
    DENIED,
    MUTATION,
    CheckLoad,
    check_over_http,
    deploy,
    first_traceback,
    server_log,
    wait_until_stored,
)

ORDERS = "{ orders(first: 5) { edges { node { id } } } }"


def post_check(client, token):
    body = json.dumps({"schema": "shop", "query": ORDERS})
    return client.post("/api/v1/check", body, content_type="application/json", **bearer(token))


@pytest.mark.django_db
def test_a_database_error_gets_503_database_unavailable_with_retry_after(client, agent_token, monkeypatch):
    def unreachable(**kwargs):
        raise OperationalError('connection to server at "127.0.0.1", port 5432 failed: Connection refused')

    monkeypatch.setattr("policies.checks.api.run_check", unreachable)
    response = post_check(client, agent_token)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "DATABASE_UNAVAILABLE"
    assert int(response["Retry-After"]) > 0


@pytest.mark.django_db(transaction=True)
def test_records_read_before_a_failed_store_are_retried_at_once(client, shop, agent_token, redis_settings, monkeypatch):
    decision_id = post_check(client, agent_token).json()["decision_id"]

    def database_away(records, **kwargs):
        raise OperationalError("terminating connection due to administrator command")

    with monkeypatch.context() as patched:
        patched.setattr(records, "store_records", database_away)
        with pytest.raises(OperationalError):
            drainer.drain()
    assert drainer.drain() == 0  # read by this drainer, so not new; the claim waits for claim_idle_ms
    assert drainer.drain(retry_own_pending=True) == 1
    assert drainer.stream_backlog() == 0
    assert Decision.objects.filter(pk=decision_id).exists()



@pytest.mark.slow
@pytest.mark.timeout(240)
@pytest.mark.skipif(postgres_bindir() is None, reason="PostgreSQL binaries not installed")
def test_postgres_restarted_under_load_gives_503s_at_most_recovers_and_loses_nothing(tmp_path, throwaway_redis_server):
    with PostgresCluster() as cluster:
        # Every check reads the active-policy pointer, so every check during the outage meets it.
        deployment = deploy(
            tmp_path, cluster.create_database(), throwaway_redis_server.url, GQLGOV_POLICY_REFRESH_S="0"
        )
        environment, token = deployment.environment, deployment.token
        with servers.drainer(environment), servers.web_server(environment, "gunicorn", 2) as (base, _master):
            with CheckLoad(base, token, [ALLOWED, DENIED, MUTATION], rate=80) as load:
                time.sleep(3)
                cluster.restart()  # pg_ctl restart -m fast: every server connection is terminated
                time.sleep(3)
                cluster.stop("fast")  # and a longer outage: the answer checks get, and a worker booting meanwhile
                time.sleep(1)
                during_outage = check_over_http(base, token, ALLOWED)
                with servers.web_server(environment, "gunicorn", 1) as (booted_base, _booted):
                    booted_during_outage = check_over_http(booted_base, token, ALLOWED)
                cluster.start()
                time.sleep(3)
                answered = load.statuses[200]
            recovered = [check_over_http(base, token, ALLOWED) for _ in range(4)]  # both workers, neither restarted
            started = time.monotonic()
            missing_records, missing_audits = wait_until_stored(
                environment, load.acknowledged, load.acknowledged_mutations, timeout_s=60
            )
            drained_s = time.monotonic() - started
            audit = environment.manage("verify_audit")

    assert set(load.answers) <= {(200, ""), (503, "DATABASE_UNAVAILABLE")}, load.answers  # never a 500
    assert during_outage.status_code == 503, during_outage.text
    assert during_outage.json()["error"]["code"] == "DATABASE_UNAVAILABLE"
    assert int(during_outage.headers["Retry-After"]) > 0
    assert [response.status_code for response in recovered] == [200] * 4
    assert booted_during_outage.status_code == 503, booted_during_outage.text
    assert booted_during_outage.json()["error"]["code"] == "DATABASE_UNAVAILABLE"
    assert answered > 300 and load.acknowledged_mutations, load.answers
    assert missing_records == set(), f"{len(missing_records)} acknowledged decision records lost"
    assert missing_audits == set(), f"{len(missing_audits)} mutation-check audit events lost"
    assert drained_s < 20, f"the drainer took {drained_s:.0f} s to store what it read during the outage"
    assert "intact" in audit
    log = server_log(tmp_path)
    assert "worker ready, active policies not built: database unavailable" in log  # one line, not a traceback
    assert parse_token(token).secret not in log
    assert "Traceback" not in log, first_traceback(log)
