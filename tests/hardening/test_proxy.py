"""The production shape with nginx in front of gunicorn (deploy/nginx/gqlgov.conf.template, rendered
as docker-compose's `proxy` service renders it), on loopback, over raw sockets.

Slow clients hold gunicorn's sync workers when they reach them directly; behind nginx they never
reach them. Every refusal nginx makes answers the API's JSON error shape; what nginx forwards,
gunicorn accepts (its limits are above nginx's); a chunked body is read, not taken for empty.
"""

from __future__ import annotations

import http.client
import json
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest

from tests.support import servers
from tests.support.production_server import ALLOWED, ClientThreads, deploy, dev_server, nginx_proxy

pytestmark = pytest.mark.slow

WORKERS = 2
SLOW_CLIENTS = 12
DRIP_INTERVAL_S = 2.0
MAX_BODY_BYTES = 256 * 1024  # GQLGOV_MAX_BODY_BYTES's default, which the stack runs with
MAX_SCHEMA_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class Stack:
    direct: str  # gunicorn itself
    proxied: str  # nginx in front of it
    token: str
    environment: servers.BenchEnvironment


@pytest.fixture(scope="module")
def stack(tmp_path_factory, redis_url):
    workdir = tmp_path_factory.mktemp("proxy")
    # Decisions inserted synchronously: nothing is left on a Redis stream another test might drain.
    deployment = deploy(workdir, f"sqlite:///{workdir / 'db.sqlite3'}", redis_url, GQLGOV_DECISION_STREAM="false")
    with servers.web_server(deployment.environment, "gunicorn", WORKERS) as (direct, _master):
        with nginx_proxy(direct, max_body_bytes=MAX_BODY_BYTES, max_schema_bytes=MAX_SCHEMA_BYTES) as proxied:
            yield Stack(direct, proxied, deployment.token, deployment.environment)


def _address(base: str) -> tuple[str, int]:
    parts = urlsplit(base)
    return parts.hostname or "127.0.0.1", parts.port or 80


def exchange(base: str, request: bytes, timeout_s: float = 10) -> tuple[int, dict[str, str], bytes]:
    """Sends `request` as it is and reads one answer: status, headers (lower-case names), body."""
    with socket.create_connection(_address(base), timeout=timeout_s) as sock:
        try:
            sock.sendall(request)
        except OSError:
            pass  # the server answered before reading everything: its answer is still readable
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, {name.lower(): value for name, value in response.getheaders()}, response.read()


def error_code(headers: dict[str, str], body: bytes) -> str:
    """The code of an answer in the API's error shape (the test fails on any other shape)."""
    assert headers.get("content-type", "").startswith("application/json"), body[:300]
    error = json.loads(body)["error"]
    assert set(error) == {"code", "message", "details"}, error
    return error["code"]


def request(method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def chunked(body: bytes, size: int = 4096) -> bytes:
    pieces = [body[at : at + size] for at in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces) + b"0\r\n\r\n"


def check_body() -> bytes:
    schema, query = ALLOWED
    return json.dumps({"schema": schema, "query": query}).encode()


class SlowClients(ClientThreads):
    """`count` connections each sending a request one byte every DRIP_INTERVAL_S; half drip their
    headers, half their body. One the server drops is opened again at once, as an attacker would."""

    def __init__(self, base: str, count: int = SLOW_CLIENTS) -> None:
        self.address = _address(base)
        self.reconnects = 0
        super().__init__(count, join_timeout_s=10)

    def _requests(self, index: int) -> tuple[bytes, bytes]:
        """What is sent at once, and what is then sent byte by byte."""
        if index % 2:
            return request("GET", "/api/v1/health").removesuffix(b"\r\n"), b"X-Slow: " + b"a" * 1000
        return request("POST", "/api/v1/check", {"Content-Type": "application/json", "Content-Length": "1000"}), (
            b" " * 1000
        )

    def _run(self, index: int) -> None:
        at_once, dripped = self._requests(index)
        while not self.stop.is_set():
            try:
                with socket.create_connection(self.address, timeout=5) as sock:
                    sock.sendall(at_once)
                    for byte in dripped:
                        if self.stop.wait(DRIP_INTERVAL_S):
                            return
                        sock.sendall(bytes([byte]))
            except OSError:
                pass  # dropped by the server
            self.reconnects += 1


def health_latencies(base: str, probes: int, timeout_s: float, pause_s: float = 0.5) -> list[float]:
    """Seconds each GET /api/v1/health took; `timeout_s` for one that got no answer in time."""
    latencies = []
    for _ in range(probes):
        started = time.monotonic()
        try:
            status, _headers, _body = exchange(base, request("GET", "/api/v1/health"), timeout_s=timeout_s)
            latencies.append(time.monotonic() - started if status == 200 else timeout_s)
        except OSError:
            latencies.append(timeout_s)
        time.sleep(pause_s)
    return latencies


def test_health_answers_within_a_second_while_a_dozen_slow_clients_hold_connections_to_the_proxy(stack):
    with SlowClients(stack.proxied):
        time.sleep(DRIP_INTERVAL_S + 1)  # every slow client connected and dripping
        latencies = health_latencies(stack.proxied, probes=16, timeout_s=5)
    assert max(latencies) < 1.0, latencies


def test_without_the_proxy_the_same_slow_clients_hold_every_sync_worker(stack):
    """The hazard the proxy removes (issue 19, item 4): gunicorn's sync workers, reached directly,
    wait on slow clients until the 30 s worker timeout, and probes go unanswered."""
    try:
        with SlowClients(stack.direct):
            time.sleep(DRIP_INTERVAL_S + 1)
            latencies = health_latencies(stack.direct, probes=4, timeout_s=2)
        assert all(latency >= 1.0 for latency in latencies), latencies
    finally:
        servers.wait_until(f"{stack.direct}/api/v1/health", timeout_s=40)  # the held workers freed again


@pytest.mark.parametrize("through", ["proxied", "direct"])
def test_a_chunked_check_body_is_read_not_taken_for_empty(stack, through):
    body = chunked(check_body(), size=16)
    headers = {
        "Authorization": f"Bearer {stack.token}",
        "Content-Type": "application/json",
        "Transfer-Encoding": "chunked",
    }
    status, _headers, answer = exchange(getattr(stack, through), request("POST", "/api/v1/check", headers, body))
    assert status == 200, answer
    assert json.loads(answer)["decision"] == "allow"


def test_a_chunked_body_on_the_dev_server_is_refused_with_length_required(stack):
    """runserver does not decode chunks (no wsgi.input_terminated): refused, not read as empty."""
    headers = {
        "Authorization": f"Bearer {stack.token}",
        "Content-Type": "application/json",
        "Transfer-Encoding": "chunked",
    }
    with dev_server(stack.environment) as (base, _process):
        status, headers, answer = exchange(base, request("POST", "/api/v1/check", headers, chunked(check_body())))
    assert (status, error_code(headers, answer)) == (411, "MALFORMED_REQUEST")


@pytest.mark.parametrize("through", ["proxied", "direct"])
def test_a_chunked_body_over_the_cap_is_refused_with_payload_too_large(stack, through):
    body = chunked(b" " * (MAX_BODY_BYTES + 1), size=64 * 1024)
    headers = {
        "Authorization": f"Bearer {stack.token}",
        "Content-Type": "application/json",
        "Transfer-Encoding": "chunked",
    }
    status, headers, answer = exchange(getattr(stack, through), request("POST", "/api/v1/check", headers, body))
    assert (status, error_code(headers, answer)) == (413, "PAYLOAD_TOO_LARGE")
    assert json.loads(answer)["error"]["details"]["limit"] == MAX_BODY_BYTES


HEALTH = "GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
REFUSED_BY_NGINX = {
    "both Transfer-Encoding and Content-Length": (
        request("POST", "/api/v1/check", {"Transfer-Encoding": "chunked", "Content-Length": "5"}, chunked(b"{}")),
        400,
        "MALFORMED_REQUEST",
    ),
    "an invalid Content-Length": (
        request("POST", "/api/v1/check", {"Content-Length": "abc"}),
        400,
        "MALFORMED_REQUEST",
    ),
    "a request line that is not HTTP": (b"HELLO\r\n\r\n", 400, "MALFORMED_REQUEST"),
    "a request line over 8 KiB": (request("GET", "/api/v1/health?" + "a" * 8200), 414, "MALFORMED_REQUEST"),
    "a header line over 8 KiB": (request("GET", "/api/v1/health", {"X-Big": "a" * 8200}), 431, "MALFORMED_REQUEST"),
    "over 32 KiB of header lines": (
        request("GET", "/api/v1/health", {f"X-Big-{n}": "a" * 8100 for n in range(5)}),
        431,
        "MALFORMED_REQUEST",
    ),
    "a method gunicorn refuses": (request("FOOBARBAZQUXQUUXCORGEGRAULT", "/api/v1/health"), 405, "METHOD_NOT_ALLOWED"),
    "a Transfer-Encoding other than chunked": (
        request("POST", "/api/v1/check", {"Transfer-Encoding": "gzip"}),
        501,
        "MALFORMED_REQUEST",
    ),
    "a Content-Length over the body cap": (
        request("POST", "/api/v1/check", {"Content-Length": str(MAX_BODY_BYTES + 1)}),
        413,
        "PAYLOAD_TOO_LARGE",
    ),
    "a schema over the schema cap": (
        request("POST", "/api/v1/schemas/shop/versions", {"Content-Length": str(MAX_SCHEMA_BYTES + 1)}),
        413,
        "PAYLOAD_TOO_LARGE",
    ),
}


@pytest.mark.parametrize("case", REFUSED_BY_NGINX)
def test_the_proxy_refuses_malformed_requests_in_the_json_error_shape(stack, case):
    raw, expected_status, expected_code = REFUSED_BY_NGINX[case]
    status, headers, body = exchange(stack.proxied, raw)
    assert (status, error_code(headers, body)) == (expected_status, expected_code), body[:300]


def test_the_proxy_names_the_route_s_own_cap_in_a_413(stack):
    status, _headers, body = exchange(stack.proxied, REFUSED_BY_NGINX["a schema over the schema cap"][0])
    assert status == 413
    assert json.loads(body)["error"]["details"] == {"limit": MAX_SCHEMA_BYTES}


ACCEPTED_BY_NGINX = {
    "a request line of 8190 bytes": request(
        "GET", "/api/v1/health?" + "a" * (8190 - len("GET /api/v1/health? HTTP/1.1"))
    ),
    "a header line of 8190 bytes": request("GET", "/api/v1/health", {"X-Big": "a" * (8190 - len("X-Big: "))}),
    "an X-Forwarded-For of 8190 bytes, which nginx extends": request(
        "GET", "/api/v1/health", {"X-Forwarded-For": "a" * (8190 - len("X-Forwarded-For: "))}
    ),
    "four header lines of 8 KiB": request("GET", "/api/v1/health", {f"X-Big-{n}": "a" * 8100 for n in range(4)}),
    "a thousand header lines": (HEALTH + "a: b\r\n" * 990 + "\r\n").encode(),
}


@pytest.mark.parametrize("case", ACCEPTED_BY_NGINX)
def test_what_the_proxy_forwards_gunicorn_accepts(stack, case):
    status, _headers, body = exchange(stack.proxied, ACCEPTED_BY_NGINX[case])
    assert status == 200, body[:300]


def test_the_admin_keeps_its_larger_body_cap_behind_the_proxy(stack):
    """The admin's schema form takes SDL up to the schema cap, as Django does outside /api/."""
    body = b"sdl=" + b"a" * (MAX_BODY_BYTES + 1)
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Content-Length": str(len(body))}
    status, _headers, answer = exchange(stack.proxied, request("POST", "/admin/login/", headers, body))
    assert status == 403, answer[:300]  # Django's CSRF refusal: the body reached the app


def test_the_proxy_s_error_pages_are_not_reachable_from_outside(stack):
    status, headers, body = exchange(stack.proxied, request("GET", "/_gqlgov_proxy/400"))
    assert (status, error_code(headers, body)) == (404, "NOT_FOUND")


def test_the_proxy_tells_gunicorn_the_client_address_and_scheme(stack):
    """X-Forwarded-For gets the client appended, X-Forwarded-Proto is nginx's own; the scheme
    headers gunicorn would compare with it (and refuse in HTML when they disagree) are dropped."""
    status, _headers, body = exchange(
        stack.proxied, request("GET", "/api/v1/health", {"X-Forwarded-Ssl": "on", "X-Forwarded-Proto": "https"})
    )
    assert status == 200, body[:300]
