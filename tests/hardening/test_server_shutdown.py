"""A graceful stop of the production server (gunicorn per gqlgov/gunicorn.conf.py, metrics in
multi-process mode as docker-compose runs it) is clean however many workers exit at once.

Workers exiting together send the master overlapping SIGCHLDs; its child_exit hook once imported
prometheus-client lazily and the second signal re-entered that import (a circular-import traceback).
"""

import pytest

from tests.support import servers
from tests.support.production_server import deploy, first_traceback, server_log

pytestmark = pytest.mark.slow

WORKERS = 10
STOPS = 5  # without the fix, 6 stops in 8 showed the race with ten workers


def test_many_workers_stopping_together_exit_cleanly(tmp_path, redis_url):
    deployment = deploy(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite3'}", redis_url)
    for _ in range(STOPS):
        with servers.web_server(deployment.environment, "gunicorn", WORKERS) as (_base, master):
            pass
        assert master.returncode == 0
    log = server_log(tmp_path)
    assert log.count("worker ready") == WORKERS * STOPS
    assert "Traceback" not in log, first_traceback(log)
