"""Faults under load against the production server (gunicorn per gqlgov/gunicorn.conf.py) on loopback.

A worker SIGKILLed mid-load loses no acknowledged decision record; Redis killed and restarted
gives 503 RATE_LIMITER_UNAVAILABLE (never a 500) and gqlgov recovers without a restart.
"""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from agents.tokens import parse_token
from tests.support import servers
from tests.support.production_server import CheckLoad, deploy, server_log, wait_until_stored

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


def test_worker_sigkill_and_redis_restart_under_load(tmp_path):
    redis = PersistentRedis(tmp_path)
    redis.start()
    deployment = deploy(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite3'}", redis.url)
    environment, token = deployment.environment, deployment.token
    try:
        with servers.drainer(environment), servers.web_server(environment, "gunicorn", 2) as (base, master):
            with CheckLoad(base, token) as load:
                time.sleep(2)
                victim = servers.children(master.pid)[0]
                os.kill(victim, signal.SIGKILL)  # gunicorn replaces it; in-flight requests get no answer
                time.sleep(2)
                redis.kill()
                time.sleep(2)
                # A schema whose policy has rate limits needs the limiter (bench_open's has none).
                during_outage = servers.post(
                    base, "/api/v1/check", json.dumps({"schema": "bench", "query": QUERY}).encode(),
                    {"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
                redis.start()
                time.sleep(4)  # the limiter probes Redis again within a second or two
            recovered = servers.post(base, "/api/v1/check", json.dumps({"schema": "bench", "query": QUERY}).encode(),
                                     {"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
            # Every acknowledged record reaches the database.
            missing, _audits = wait_until_stored(environment, load.acknowledged, timeout_s=30)
    finally:
        redis.kill()
    assert len(load.acknowledged) > 50, load.statuses
    assert missing == set(), f"{len(missing)} acknowledged decision records lost"
    assert 500 not in load.statuses, load.statuses
    status, payload = during_outage
    assert status == 503 and json.loads(payload)["error"]["code"] == "RATE_LIMITER_UNAVAILABLE"
    assert recovered[0] == 200, recovered
    log = server_log(tmp_path)
    assert token not in log and parse_token(token).secret not in log
