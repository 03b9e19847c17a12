"""The production server configuration (used by docker-compose and by `manage.py bench`)."""

import multiprocessing
import os

# An empty PROMETHEUS_MULTIPROC_DIR is off, as in gqlgov/metrics.py: settled before prometheus-client
# is imported, since its import is what reads the variable.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)

# Imported here, in the master, before any worker exists: importing it lazily in child_exit let a
# second SIGCHLD re-enter that hook mid-import during shutdown (a circular-import traceback).
from prometheus_client import multiprocess

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# One more sync worker than cores: a worker waiting on its check's Redis round trip leaves its core
# to another (2 cores, `manage.py bench`: ratio_warm 0.41/0.49 with 3 workers vs 0.34-0.39 with 2).
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() + 1))
worker_class = "sync"
keepalive = 5
timeout = 30
graceful_timeout = 20
# Recycling a worker throws away its built schemas and caches (seconds of CPU for a large schema),
# so at ~1000 checks/s per worker it must be rare: 10,000 recycled each worker every ~10 s and cost
# a fifth of the capacity. Memory is bounded by the caches' own limits; this is only a backstop.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", 1_000_000))
max_requests_jitter = max_requests // 10
accesslog = None
# gunicorn reads no X-Forwarded-Proto (by default it believes loopback peers): the scheme is decided by
# gqlgov.security.ForwardedProtoMiddleware, from GQLGOV_TRUSTED_PROXIES only.
secure_scheme_headers: dict[str, str] = {}
errorlog = "-"

# Above what nginx forwards (deploy/nginx/gqlgov.conf.template: large_client_header_buffers 4 8k),
# so that nginx refuses an oversized request first, with the API's JSON error shape; gunicorn's own
# refusals are HTML pages. A request line or header line fits one 8 KiB buffer (CRLF included), and
# X-Forwarded-For grows by at most ", " and an IPv6 address on the way; the smallest header line
# ("a:" CRLF) is 4 bytes, so the four buffers hold at most 8192 of them, plus the few nginx adds.
limit_request_line = 8190  # gunicorn's maximum: nginx's 8 KiB buffer less the CRLF
limit_request_field_size = 8192 + 64
limit_request_fields = 4 * 8192 // 4 + 16


# prometheus-client multi-process mode (gqlgov/metrics.py): a clean directory per server start,
# and a dead worker's live gauges dropped. Counters of dead workers are kept and still summed.
def on_starting(server):
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        import shutil

        shutil.rmtree(directory, ignore_errors=True)
        os.makedirs(directory, exist_ok=True)


def post_worker_init(worker):
    # Build the active schemas and policies before this worker accepts its first request,
    # heartbeating after each so a slow build is not taken for a hung worker (`timeout`).
    # Each outcome logs one "worker ready" line (tests/support/servers.py waits for one per worker).
    from django.db import Error as AnyDatabaseError
    from django.db import close_old_connections

    from gqlgov.errors import first_line
    from policies.checks.caches import warm_active_policies

    try:
        built = warm_active_policies(after_each=worker.notify)
    except AnyDatabaseError as error:
        # The database away at boot (a restart, a failover) is an expected condition, not a bug:
        # one line, no traceback; the first checks build the policies once it is back.
        worker.log.error("worker ready, active policies not built: database unavailable (%s)", first_line(error))
    except Exception:
        worker.log.exception("worker ready, active policies not built")
    else:
        worker.log.info("worker ready: %d active policies built", built)
    finally:
        close_old_connections()


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)
