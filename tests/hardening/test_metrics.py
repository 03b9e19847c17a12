"""GET /api/v1/metrics: Prometheus text for the scraper token and staff, refused to everyone else."""

import json

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
