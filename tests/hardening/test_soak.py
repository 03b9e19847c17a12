"""Soak: the production server (gunicorn per gqlgov/gunicorn.conf.py) at a steady modest rate of mixed
allow / deny / rate-limited / mutation checks for three minutes (after a 10 s warm-up).

No error of any kind (in answers or in the server's log), a bounded p99, bounded memory growth of every worker, the workers never
replaced, and every acknowledged decision record and mutation-check audit event stored.
"""

import os
import time

import pytest

from tests.support import servers
from tests.support.production_server import (
    ALLOWED,
    DENIED,
    MUTATION,
    CheckLoad,
    deploy,
    first_traceback,
    percentile,
    server_log,
    wait_until_stored,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(480)]

RATE = 100  # checks per second
WARM_UP_S = 10
SOAK_S = 180
RATE_LIMITED = ("bench", ALLOWED[1])  # the same query on the schema whose policy has rate limits (Redis)
MAX_P99_S = 0.5  # generous: the load generator shares the two cores with the server
MAX_RSS_GROWTH_MB = 30


def test_steady_load_for_three_minutes_gives_no_errors_bounded_latency_and_bounded_memory(tmp_path, throwaway_redis_server):
    with servers.bench_database(tmp_path, os.environ.get("DATABASE_URL")) as database_url:
        deployment = deploy(tmp_path, database_url, throwaway_redis_server.url)
        environment = deployment.environment
        with servers.drainer(environment), servers.web_server(environment, "gunicorn", 2) as (base, master):
            with CheckLoad(base, deployment.token, [ALLOWED, RATE_LIMITED, DENIED, MUTATION], rate=RATE) as load:
                time.sleep(WARM_UP_S)
                workers = sorted(servers.children(master.pid))
                warm = {pid: servers.rss_mb(pid) for pid in workers}
                warm_count = sum(load.statuses.values())
                started = time.monotonic()
                time.sleep(SOAK_S)
                end = {pid: servers.rss_mb(pid) for pid in workers}
                soaked = sum(load.statuses.values()) - warm_count
                soak_s = time.monotonic() - started
                workers_at_end = sorted(servers.children(master.pid))
                latencies = list(load.latencies_s[warm_count:])
            missing_records, missing_audits = wait_until_stored(
                environment, load.acknowledged, load.acknowledged_mutations, timeout_s=60
            )

    growth = {pid: round(end[pid] - warm[pid], 1) for pid in workers}
    report = f"{soaked / soak_s:.0f} req/s, p99 {percentile(latencies, 0.99) * 1000:.0f} ms, RSS {warm} -> {end}"
    assert set(load.answers) == {(200, "")}, load.answers  # no 5xx, no refusal, no dropped connection
    assert soaked >= 0.9 * RATE * SOAK_S, report  # the rate held
    assert percentile(latencies, 0.99) < MAX_P99_S, report
    assert workers_at_end == workers and len(workers) == 2, "a worker was replaced during the soak"
    assert all(warm[pid] > 0 for pid in workers), report
    assert max(growth.values()) < MAX_RSS_GROWTH_MB, report
    assert missing_records == set(), f"{len(missing_records)} acknowledged decision records lost"
    assert missing_audits == set(), f"{len(missing_audits)} mutation-check audit events lost"
    assert load.acknowledged_mutations
    log = server_log(tmp_path)
    assert "Traceback" not in log, first_traceback(log)
