"""Faults under load against the production server (gunicorn per gqlgov/gunicorn.conf.py) on loopback.

A worker SIGKILLed mid-load loses no acknowledged decision record; Redis killed and restarted
gives 503 RATE_LIMITER_UNAVAILABLE (never a 500) and gqlgov recovers without a restart.
"""

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from policies.bench import servers
from policies.bench.http_bench import _post

pytestmark = pytest.mark.slow

QUERY = "{ orders(first: 5) { edges { node { id } } } }"


class PersistentRedis:
    """redis-server with an fsync-always append-only file: a kill loses nothing it acknowledged."""

    def __init__(self, workdir: Path) -> None:
        self.workdir, self.port = workdir, servers.free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes",
             "--appendfsync", "always", "--dir", str(self.workdir), "--logfile", str(self.workdir / "redis.log")])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if subprocess.run(["redis-cli", "-p", str(self.port), "ping"], capture_output=True).stdout.strip() == b"PONG":
                return
            time.sleep(0.05)
        raise RuntimeError("redis did not start")

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)


class Load:
    """Threads posting checks; keeps every acknowledged decision id and every status seen."""

    def __init__(self, base: str, token: str, threads: int = 4) -> None:
        self.base, self.token = base, token
        self.acknowledged: list[str] = []
        self.statuses: dict[int, int] = {}
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.run) for _ in range(threads)]

    def run(self) -> None:
        body = json.dumps({"schema": "bench_open", "query": QUERY}).encode()
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {self.token}"}
        while not self.stop.is_set():
            try:
                status, payload = _post(self.base, "/api/v1/check", body, headers, timeout_s=10)
            except OSError:
                status, payload = 0, b""  # the connection of a killed worker: no answer, nothing acknowledged
            self.statuses[status] = self.statuses.get(status, 0) + 1
            if status == 200:
                self.acknowledged.append(json.loads(payload)["decision_id"])
            time.sleep(0.002)

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)


def test_worker_sigkill_and_redis_restart_under_load(tmp_path):
    redis = PersistentRedis(tmp_path)
    redis.start()
    (tmp_path / "data").mkdir()
    environment = servers.BenchEnvironment(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite3'}", redis.url, extra={
        "GQLGOV_DECISION_STREAM": "true", "GQLGOV_DENIED_CHECKS_PER_MINUTE": "100000"})
    (tmp_path / "schema.graphql").write_text((Path(servers.ROOT) / "policies/demo/shop.graphql").read_text())
    environment.manage("migrate", "--noinput")
    token = json.loads(environment.module("policies.bench.seed", "seed", str(tmp_path / "schema.graphql")))["token"]
    try:
        with servers.drainer(environment), servers.web_server(environment, "gunicorn", 2) as (base, master):
            with Load(base, token) as load:
                time.sleep(2)
                victim = servers.children(master.pid)[0]
                os.kill(victim, signal.SIGKILL)  # gunicorn replaces it; in-flight requests get no answer
                time.sleep(2)
                redis.kill()
                time.sleep(2)
                # A schema whose policy has rate limits needs the limiter (bench_open's has none).
                during_outage = _post(base, "/api/v1/check", json.dumps({"schema": "bench", "query": QUERY}).encode(),
                                      {"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
                redis.start()
                time.sleep(4)  # the limiter probes Redis again within a second or two
            recovered = _post(base, "/api/v1/check", json.dumps({"schema": "bench", "query": QUERY}).encode(),
                              {"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
            # Every acknowledged record reaches the database.
            deadline = time.monotonic() + 30
            while True:
                stored = set(json.loads(environment.module("policies.bench.seed", "ids"))["ids"])
                missing = set(load.acknowledged) - stored
                if not missing or time.monotonic() > deadline:
                    break
                time.sleep(1)
    finally:
        redis.kill()
    assert len(load.acknowledged) > 50, load.statuses
    assert missing == set(), f"{len(missing)} acknowledged decision records lost"
    assert 500 not in load.statuses, load.statuses
    status, payload = during_outage
    assert status == 503 and json.loads(payload)["error"]["code"] == "RATE_LIMITER_UNAVAILABLE"
    assert recovered[0] == 200, recovered
    log = "".join(path.read_text() for path in tmp_path.glob("gunicorn-*.log"))
    assert token not in log and token.split("_")[-1] not in log
