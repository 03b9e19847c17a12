"""Prometheus metrics: every name gqlgov exports, the helpers that record them, and `GET /api/v1/metrics`.

Multi-process servers (gunicorn workers, Celery): set PROMETHEUS_MULTIPROC_DIR to a directory
private to one host/container (gqlgov/gunicorn.conf.py empties it at start and marks dead
workers); the endpoint then aggregates every process's values. Without it each process reports
only its own counters (fine for `runserver`).

Names (see the README's "Metrics" section for the Grafana queries):
  gqlgov_decisions_total{decision}                  checks answered, by allow / deny / pending_approval
  gqlgov_decision_reasons_total{decision, code}     reason codes in those answers (one count per reason)
  gqlgov_check_errors_total{code}                   checks answered with an error instead of a decision (503 ...)
  gqlgov_check_duration_seconds{status}             server-side time of POST /api/v1/check (histogram)
  gqlgov_analysis_cache_total{result}               analysis cache lookups: hit / miss
  gqlgov_ratelimit_outcomes_total{outcome}          admitted / refused / never_admissible / unavailable / degraded
  gqlgov_ratelimit_outages_total                    limiter outages begun (incremented by the limiter)
  gqlgov_decision_records_total{path}               records made durable: stream / sync / drained
  gqlgov_decision_stream_backlog                    records on the Redis stream not yet in the database (at scrape)
  gqlgov_export_runs_total{status}                  gateway export runs by final status (incremented by exports)
  gqlgov_export_drift_total{target}                 drift checks that found a target differing from its plan
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from ninja import Router
from ninja.security import HttpBearer

# prometheus-client turns multi-process mode on when the variable merely exists, so an empty one
# (a blank line in an env file) would scatter its files into the working directory: empty is off.
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)
else:
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

DECISIONS = Counter("gqlgov_decisions_total", "Checks answered with a decision.", ["decision"])
DECISION_REASONS = Counter("gqlgov_decision_reasons_total", "Reason codes in check decisions.", ["decision", "code"])
CHECK_ERRORS = Counter("gqlgov_check_errors_total", "Checks answered with an error instead of a decision.", ["code"])
CHECK_DURATION = Histogram(
    "gqlgov_check_duration_seconds", "Server-side time to answer POST /api/v1/check.", ["status"],
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
ANALYSIS_CACHE = Counter("gqlgov_analysis_cache_total", "Analysis cache lookups by result.", ["result"])
SHAPE_CACHE = Counter("gqlgov_shape_cache_total",
                      "Analysis cache misses by what the shape cache made of them (hit, miss, cold).", ["result"])
RATELIMIT_OUTCOMES = Counter("gqlgov_ratelimit_outcomes_total", "Rate limiter answers by outcome.", ["outcome"])
RATELIMIT_OUTAGES = Counter("gqlgov_ratelimit_outages_total", "Rate limiter outages begun (Redis unreachable).")
DECISION_RECORDS = Counter("gqlgov_decision_records_total", "Decision records made durable, by path.", ["path"])
EXPORT_RUNS = Counter("gqlgov_export_runs_total", "Gateway export runs by final status.", ["status"])
EXPORT_DRIFT = Counter("gqlgov_export_drift_total", "Drift checks that found a target differing from its plan.",
                       ["target"])


def observe_check(status: int, body: dict[str, Any], seconds: float) -> None:
    """Counts one answered check: its decision and reasons, or its error code, and its latency."""
    CHECK_DURATION.labels(str(status)).observe(seconds)
    decision = body.get("decision")
    if decision is None:
        CHECK_ERRORS.labels((body.get("error") or {}).get("code", "UNKNOWN")).inc()
        return
    DECISIONS.labels(decision).inc()
    for reason in body.get("reasons") or ():
        DECISION_REASONS.labels(decision, reason.get("code", "UNKNOWN")).inc()


def observe_check_error(code: str, status: int, seconds: float) -> None:
    CHECK_DURATION.labels(str(status)).observe(seconds)
    CHECK_ERRORS.labels(code).inc()


def observe_limiter(outcome: Any | None) -> None:
    """One limiter answer; None means Redis was unavailable and the limiter failed closed."""
    if outcome is None:
        label = "unavailable"
    elif getattr(outcome, "degraded", False):
        label = "degraded"
    elif getattr(outcome, "never_admissible", False):
        label = "never_admissible"
    else:
        label = "admitted" if outcome.allowed else "refused"
    RATELIMIT_OUTCOMES.labels(label).inc()


# Reads the decision stream's length; set by the app that owns the stream (policies' ready()),
# so this module depends on no app.
_backlog_source: Callable[[], int | None] = lambda: None  # noqa: E731


def measure_stream_backlog_with(source: Callable[[], int | None]) -> None:
    """Registers the function the `gqlgov_decision_stream_backlog` gauge reads at scrape time."""
    global _backlog_source
    _backlog_source = source


class _StreamBacklog:
    """Scrape-time gauge: the decision stream's length (the drainer's lag)."""

    def describe(self):
        return []  # registering must not touch Redis

    def collect(self):
        backlog = _backlog_source()
        if backlog is not None:
            yield GaugeMetricFamily("gqlgov_decision_stream_backlog",
                                    "Decision records on the Redis stream not yet in the database.", value=backlog)


def exposition() -> bytes:
    """The text exposition of every process's metrics (multi-process mode) or this process's."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        registry.register(_StreamBacklog())
        return generate_latest(registry)
    return generate_latest(REGISTRY)


if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    REGISTRY.register(_StreamBacklog())


class MetricsAuth(HttpBearer):
    """The scraper's GQLGOV_METRICS_TOKEN (compared in constant time), or any staff principal."""

    def authenticate(self, request: HttpRequest, token: str):
        configured = settings.GQLGOV_METRICS_TOKEN
        if configured and hmac.compare_digest(token.strip().encode(), configured.encode()):
            return "metrics-scraper"
        from agents.auth import StaffAuth

        return StaffAuth().authenticate(request, token)


router = Router(tags=["health"])


@router.get("/metrics", auth=MetricsAuth(), operation_id="get_metrics")
def get_metrics(request: HttpRequest):
    """Prometheus metrics (text exposition format) for the scraper token or staff principals."""
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)
