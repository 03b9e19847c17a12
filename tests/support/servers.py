"""The production shape's processes, for the benchmark (tools/bench) and the production-shape tests:
a throwaway Redis, a fresh database, the web server (gunicorn with gqlgov/gunicorn.conf.py), the
decision drainer; and what a run reads of them (worker pids, CPU, memory).

Everything listens on loopback only and is stopped (by its own pid) when the block ends.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import redis

from tests.support.ports import free_port
from tests.support.redis_server import REDIS_SERVER, RedisServer

ROOT = Path(__file__).resolve().parents[2]


def wait_until(url: str, timeout_s: float = 60.0, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{process.args} exited with {process.returncode}")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status < 500:
                    return
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout_s:.0f} s")


def stop(process: subprocess.Popen | None, sig: int = signal.SIGTERM, timeout_s: float = 20.0) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def post(base: str, path: str, body: bytes, headers: dict[str, str], timeout_s: float = 30.0) -> tuple[int, bytes]:
    """POSTs `body` to the server at `base`; its status and body, also when it answered (413)
    before reading the whole request."""
    parts = urlsplit(base)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout_s)
    try:
        try:
            connection.request("POST", path, body=body, headers={"Content-Length": str(len(body)), **headers})
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered (413) before reading the whole body: its answer is still readable
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@contextlib.contextmanager
def redis_server(workdir: Path) -> Iterator[str]:
    """A throwaway redis-server on a free loopback port (no persistence); yields its URL."""
    if not Path(REDIS_SERVER).exists():
        raise RuntimeError("redis-server not found: install it or pass REDIS_URL")
    server = RedisServer(workdir)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@contextlib.contextmanager
def bench_database(workdir: Path, database_url: str | None) -> Iterator[str]:
    """A fresh database: a SQLite file in `workdir`, or a new database on the PostgreSQL of `database_url`."""
    if not database_url or database_url.startswith("sqlite"):
        yield f"sqlite:///{workdir / 'bench.sqlite3'}"
        return
    import environ
    import psycopg

    config = environ.Env.db_url_config(database_url)
    name = f"gqlgov_bench_{secrets.token_hex(4)}"
    admin = psycopg.connect(host=config["HOST"] or "127.0.0.1", port=config["PORT"] or 5432, user=config["USER"],
                            password=config["PASSWORD"], dbname="postgres", autocommit=True)
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            base, _slash, _old = database_url.rpartition("/")
            yield f"{base}/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class BenchEnvironment:
    """The environment every benchmark subprocess (migrate, seed, server, drainer) runs with."""

    workdir: Path
    database_url: str
    redis_url: str
    extra: dict[str, str] = field(default_factory=dict)
    # One for every process of the environment, as a deployment has: the decision signing key one
    # process makes is encrypted under a key derived from it, and every other process decrypts it.
    secret_key: str = field(default_factory=lambda: "bench-" + secrets.token_hex(16))

    def env(self, **overrides: str) -> dict[str, str]:
        base = {key: value for key, value in os.environ.items()
                if not key.startswith(("GQLGOV_", "DATABASE_URL", "REDIS_URL", "WEB_CONCURRENCY", "GUNICORN_"))}
        base.update({
            "DJANGO_SETTINGS_MODULE": "gqlgov.settings",
            "GQLGOV_ENV": "production",
            "SECRET_KEY": self.secret_key,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "GQLGOV_DATA_DIR": str(self.workdir / "data"),
            "PYTHONPATH": str(ROOT),
            **self.extra,
            **overrides,
        })
        return base

    def manage(self, *args: str, **overrides: str) -> str:
        result = subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], env=self.env(**overrides),
                                cwd=ROOT, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed: {result.stderr[-2000:]}")
        return result.stdout

    def module(self, module: str, *args: str) -> str:
        result = subprocess.run([sys.executable, "-m", module, *args], env=self.env(), cwd=ROOT,
                                capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"{module} {' '.join(args)} failed: {result.stderr[-2000:]}")
        return result.stdout


SERVERS = ("gunicorn", "granian")


def server_command(kind: str, port: int, workers: int) -> list[str]:
    """The production server (gunicorn with gqlgov/gunicorn.conf.py) or the candidate (granian WSGI)."""
    if kind == "gunicorn":
        return [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gqlgov" / "gunicorn.conf.py"),
                "gqlgov.wsgi:application"]
    if kind == "granian":
        binary = shutil.which("granian") or str(Path(sys.executable).parent / "granian")
        return [binary, "--interface", "wsgi", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
                "--no-ws", "gqlgov.wsgi:application"]
    raise ValueError(kind)


def granian_available() -> bool:
    return bool(shutil.which("granian") or (Path(sys.executable).parent / "granian").exists())


@contextlib.contextmanager
def web_server(
    environment: BenchEnvironment, kind: str, workers: int, **overrides: str
) -> Iterator[tuple[str, subprocess.Popen]]:
    port = free_port()
    # Metrics in multi-process mode, as docker-compose runs the web container (a directory per server).
    env = environment.env(**{"GUNICORN_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": str(workers),
                             "PROMETHEUS_MULTIPROC_DIR": str(environment.workdir / f"metrics-{port}"), **overrides})
    log_path = environment.workdir / f"{kind}-{port}.log"
    log = open(log_path, "wb")
    process = subprocess.Popen(server_command(kind, port, workers), env=env, cwd=ROOT, stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(f"{base}/api/v1/health", process=process)
        if kind == "gunicorn":
            # The first worker answers while the others may still be building the policies.
            wait_for_ready_workers(log_path, workers, process)
        yield base, process
    finally:
        stop(process)
        log.close()


def wait_for_ready_workers(log: Path, workers: int, process: subprocess.Popen, timeout_s: float = 60.0) -> None:
    """Waits until `workers` gunicorn workers have logged "worker ready" (gqlgov/gunicorn.conf.py)."""
    deadline = time.monotonic() + timeout_s
    while log.read_bytes().count(b"worker ready") < workers:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args} exited with {process.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{workers} workers were not ready within {timeout_s:.0f} s")
        time.sleep(0.1)


@contextlib.contextmanager
def drainer(environment: BenchEnvironment) -> Iterator[subprocess.Popen]:
    """`manage.py drain_decisions --follow`: moves decision records from the Redis stream into the database."""
    log = open(environment.workdir / "drainer.log", "wb")
    process = subprocess.Popen([sys.executable, str(ROOT / "manage.py"), "drain_decisions", "--follow"],
                               env=environment.env(), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        stop(process)
        log.close()


def children(pid: int) -> list[int]:
    """Direct child pids (the server's workers)."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found += [int(child) for child in (task / "children").read_text().split()]
    return found


def cpu_s(pid: int) -> float:
    """User plus system CPU seconds a process has used so far (0 once it is gone)."""
    with contextlib.suppress(OSError, IndexError, ValueError):
        # Fields after the parenthesised command name, which may itself hold spaces.
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return 0.0


def redis_pid(url: str) -> int | None:
    """The pid of the Redis at `url` when it runs on this machine (its CPU is then readable)."""
    if urlsplit(url).hostname not in ("127.0.0.1", "localhost", "::1"):
        return None
    with contextlib.suppress(redis.RedisError):
        pid = int(redis.Redis.from_url(url, socket_timeout=2).info("server")["process_id"])
        return pid if Path(f"/proc/{pid}").exists() else None
    return None


def rss_mb(pid: int) -> float:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    return 0.0
