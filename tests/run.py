"""Runs the whole suite the way CI does: `python -m tests.run [pytest args]`.

Phase 1 runs every test against real PostgreSQL and Redis: the ones named by DATABASE_URL /
REDIS_URL, or throwaway servers started here on free loopback ports and stopped afterwards.
Phase 2 runs the fast tests again on the embedded default (SQLite, no Redis).
pytest's exit code 5 (nothing collected) counts as a failure: a suite that runs nothing is broken.
"""

import contextlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tests.support.postgres_server import throwaway_postgres
from tests.support.servers import redis_server

ROOT = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def throwaway_redis() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="gqlgov-test-redis-") as workdir:
        with redis_server(Path(workdir)) as url:
            yield url


def pytest(args: list[str], env: dict[str, str], label: str) -> int:
    print(f"\n=== {label} ===", flush=True)
    code = subprocess.call([sys.executable, "-m", "pytest", *args], env=env, cwd=ROOT)
    if code == 5:
        print(f"{label}: pytest collected no tests", flush=True)
    return code


def main() -> int:
    extra = sys.argv[1:]
    base_env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}
    base_env.setdefault("GQLGOV_DATA_DIR", tempfile.mkdtemp(prefix="gqlgov-test-data-"))
    # Tasks run in-process unless a test starts a real worker (tests/support/celery_worker.py does).
    base_env.setdefault("CELERY_TASK_ALWAYS_EAGER", "true")
    with contextlib.ExitStack() as stack:
        database_url = os.environ.get("DATABASE_URL") or stack.enter_context(throwaway_postgres())
        redis_url = os.environ.get("REDIS_URL") or stack.enter_context(throwaway_redis())
        real_env = {**base_env, "DATABASE_URL": database_url, "REDIS_URL": redis_url}
        code = pytest(extra, real_env, f"full suite on PostgreSQL ({database_url}) and Redis ({redis_url})")
    if code != 0:
        return code
    return pytest(["-m", "not slow", *extra], base_env, "fast tests on the embedded default (SQLite, no Redis)")


if __name__ == "__main__":
    raise SystemExit(main())
