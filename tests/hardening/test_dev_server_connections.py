"""The dev server (`manage.py runserver`, a thread per request) on PostgreSQL keeps its connections
bounded by the pool: a burst of concurrent checks neither exhausts max_connections nor leaves
connections open behind it (with CONN_MAX_AGE=60 each request's thread left one for a minute).
"""

import json
import threading
import time
from collections import Counter

import psycopg
import pytest

from tests.support.postgres_server import PostgresCluster, postgres_bindir
from tests.support.production_server import ALLOWED, deploy, dev_server
from tests.support.servers import post

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(postgres_bindir() is None, reason="PostgreSQL binaries not installed"),
]

CONCURRENT_CHECKS = 100
POOL_MAX_SIZE = 4
# Below the burst: unbounded, the dev server's threads would meet "too many clients already".
MAX_CONNECTIONS = 60


class ConnectionSampler:
    """Polls pg_stat_activity (from the `postgres` database) for the connections to `dbname`."""

    def __init__(self, cluster: PostgresCluster, dbname: str) -> None:
        self.admin = psycopg.connect(
            host="127.0.0.1", port=cluster.port, user="postgres", dbname="postgres", autocommit=True
        )
        self.dbname = dbname
        self.peak = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def count(self) -> int:
        row = self.admin.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", [self.dbname]).fetchone()
        return int(row[0]) if row else 0

    def _run(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, self.count())
            time.sleep(0.02)

    def __enter__(self) -> "ConnectionSampler":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=5)


def concurrent_checks(base: str, token: str, count: int) -> Counter:
    """`count` checks started together, each on a connection of its own; their statuses (0: no answer).

    runserver listens with a backlog of 10: a connection beyond it is reset before the server reads
    anything, and is made again, as a client would."""
    schema, query = ALLOWED
    body = json.dumps({"schema": schema, "query": query}).encode()
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    start = threading.Barrier(count)
    statuses: Counter = Counter()
    lock = threading.Lock()

    def one() -> None:
        start.wait()
        status = 0
        for attempt in range(20):
            try:
                status, _payload = post(base, "/api/v1/check", body, headers, timeout_s=60)
                break
            except (ConnectionResetError, ConnectionRefusedError):
                time.sleep(0.05 * (attempt + 1))
            except OSError:
                break
        with lock:
            statuses[status] += 1

    threads = [threading.Thread(target=one) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    return statuses


@pytest.mark.timeout(240)
def test_a_hundred_concurrent_checks_on_the_dev_server_keep_postgres_connections_bounded(tmp_path, redis_url):
    with PostgresCluster(max_connections=str(MAX_CONNECTIONS)) as cluster:
        database_url = cluster.create_database()
        # Decisions inserted by the request itself (no stream): every check writes to the database.
        deployment = deploy(tmp_path, database_url, redis_url, GQLGOV_DECISION_STREAM="false")
        environment = deployment.environment
        with dev_server(environment, GQLGOV_ENV="development", DATABASE_POOL_MAX_SIZE=str(POOL_MAX_SIZE)) as (
            base,
            _process,
        ):
            with ConnectionSampler(cluster, "gqlgov") as sampler:
                statuses = concurrent_checks(base, deployment.token, CONCURRENT_CHECKS)
                time.sleep(1)
                after = sampler.count()
    log = "".join(path.read_text() for path in tmp_path.glob("runserver-*.log"))

    assert statuses == Counter({200: CONCURRENT_CHECKS}), (statuses, log[-3000:])
    assert sampler.peak <= POOL_MAX_SIZE, f"{sampler.peak} connections at once"
    assert after <= POOL_MAX_SIZE, f"{after} connections left open after the burst"
