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
