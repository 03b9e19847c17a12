"""Every non-2xx answer on /api/ has one JSON error shape, never an HTML page or a traceback."""

import copy
import io
import json
import logging
import logging.config

import pytest

from tests.conftest import bearer

pytestmark = pytest.mark.django_db

ME = "/api/v1/agents/me"


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    assert "Traceback" not in response.content.decode()
    return body["error"]


def test_missing_credentials_get_authentication_required(client):
    response = client.get(ME)
    assert_error(response, 401, "AUTHENTICATION_REQUIRED")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_garbage_bearer_gets_invalid_token(client):
    assert_error(client.get(ME, **bearer("not-a-token")), 401, "INVALID_TOKEN")


def test_malformed_gqlgov_token_gets_invalid_token(client):
    assert_error(client.get(ME, **bearer("gqg_zzz_short")), 401, "INVALID_TOKEN")


def test_unknown_endpoint_gets_json_not_found(client):
    assert_error(client.get("/api/v1/no-such-thing"), 404, "NOT_FOUND")


def test_wrong_method_gets_json_method_not_allowed(client, agent_token):
    assert_error(client.delete("/api/v1/health"), 405, "METHOD_NOT_ALLOWED")


def test_every_request_gets_a_request_id(client):
    response = client.get("/api/v1/health", HTTP_X_REQUEST_ID="trace-123")
    assert response["X-Request-ID"] == "trace-123"
    assert len(client.get("/api/v1/health")["X-Request-ID"]) == 32


def test_health_is_always_ok(client):
    assert client.get("/api/v1/health").json() == {"status": "ok"}


def test_ready_checks_the_database(client):
    body = client.get("/api/v1/ready").json()
    assert body["status"] == "ready"
    assert body["components"]["database"] == "ok"


def test_ready_names_redis_when_it_is_down(client, settings):
    from gqlgov.redis import get_redis

    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    get_redis.cache_clear()
    try:
        error = assert_error(client.get("/api/v1/ready"), 503, "NOT_READY")
        assert error["details"]["failing"] == ["redis"]
    finally:
        get_redis.cache_clear()


def test_openapi_schema_is_served(client):
    schema = client.get("/api/v1/openapi.json").json()
    assert "/api/v1/agents/me" in schema["paths"]
    assert client.get("/api/v1/docs").status_code == 200


def test_each_request_logs_one_json_line_with_its_request_id(client, settings):
    # The configured formatter (settings.LOGGING) on a stream of the test's own.
    config = copy.deepcopy(settings.LOGGING)
    stream = io.StringIO()
    config["handlers"]["console"] = {**config["handlers"]["console"], "stream": stream}
    logging.config.dictConfig(config)
    try:
        client.get("/api/v1/health", HTTP_X_REQUEST_ID="trace-456")
    finally:
        logging.config.dictConfig(settings.LOGGING)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    request_line = next(line for line in lines if line["logger"] == "gqlgov.request")
    assert request_line["message"] == "request"
    assert request_line["level"] == "INFO"
    assert request_line["time"]
    assert request_line["request_id"] == "trace-456"
    assert (request_line["method"], request_line["path"], request_line["status"]) == ("GET", "/api/v1/health", 200)
