"""The production server configuration (used by docker-compose and by `manage.py bench`)."""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count()))
worker_class = "sync"
keepalive = 5
timeout = 30
graceful_timeout = 20
max_requests = 10000
max_requests_jitter = 1000
accesslog = None
errorlog = "-"


# prometheus-client multi-process mode (gqlgov/metrics.py): a clean directory per server start,
# and a dead worker's live gauges dropped. Counters of dead workers are kept and still summed.
def on_starting(server):
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        import shutil

        shutil.rmtree(directory, ignore_errors=True)
        os.makedirs(directory, exist_ok=True)


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
