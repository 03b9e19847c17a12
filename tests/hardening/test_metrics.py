"""GET /api/v1/metrics: Prometheus text for the scraper token and staff, refused to everyone else."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import bearer, issue_token_for, make_principal

pytestmark = pytest.mark.django_db

METRICS = "/api/v1/metrics"


def test_metrics_need_a_token(client):
    assert client.get(METRICS).status_code == 401


def test_an_agent_may_not_read_metrics(client, agent_token):
    response = client.get(METRICS, **bearer(agent_token))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "PERMISSION_DENIED"


def test_a_wrong_scraper_token_is_refused(client, settings):
    settings.GQLGOV_METRICS_TOKEN = "scrape-secret-123"
    assert client.get(METRICS, **bearer("scrape-secret-124")).status_code == 401


def test_staff_and_the_scraper_read_decision_metrics(client, shop, agent_token, settings):
    settings.GQLGOV_METRICS_TOKEN = "scrape-secret-123"
    body = {"schema": "shop", "query": "{ customer(id: 1) { ssn } }"}
    client.post("/api/v1/check", json.dumps(body), content_type="application/json", **bearer(agent_token))
    staff = issue_token_for(make_principal("ci-bot", "service", groups=["gqlgov-admins"]))
    for token in (staff, "scrape-secret-123"):
        response = client.get(METRICS, **bearer(token))
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/plain")
        text = response.content.decode()
        assert 'gqlgov_decisions_total{decision="deny"}' in text
        assert 'gqlgov_decision_reasons_total{code="FORBIDDEN_FIELD",decision="deny"}' in text
        assert "gqlgov_check_duration_seconds_bucket" in text
        assert 'gqlgov_analysis_cache_total{result="miss"}' in text
        assert "gqlgov_ratelimit_outcomes_total" in text


# Each as a process would first import prometheus-client: gunicorn's master from its config file,
# every other process (workers, Celery, manage.py) through gqlgov.metrics once Django is set up.
FIRST_IMPORTS = {
    "gunicorn master": "runpy.run_path(os.path.join(sys.path[0], 'gqlgov', 'gunicorn.conf.py'))",
    "django process": "import django; django.setup(); import gqlgov.metrics",
}


@pytest.mark.parametrize("first_import", FIRST_IMPORTS.values(), ids=FIRST_IMPORTS.keys())
def test_an_empty_multiprocess_directory_means_single_process_metrics(tmp_path, first_import):
    """A blank PROMETHEUS_MULTIPROC_DIR= line in an env file must not leave metric files in the
    working directory (prometheus-client alone would write them there)."""
    root = Path(__file__).resolve().parents[2]
    program = (
        "import os, runpy, sys\n"
        f"sys.path.insert(0, {str(root)!r})\n"
        "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'gqlgov.settings')\n"
        f"{first_import}\n"
        "from prometheus_client import Counter\n"
        "Counter('probe_total', 'probe').inc()\n"
        "print(os.environ.get('PROMETHEUS_MULTIPROC_DIR', 'unset'))\n"
    )
    done = subprocess.run([sys.executable, "-c", program], cwd=tmp_path, capture_output=True, text=True,
                          env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": ""}, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["unset"]
    assert list(tmp_path.iterdir()) == []
