"""Helpers for tests against the moto server: clients with a call recorder, injected throttling."""

from __future__ import annotations

import json
from typing import Any

from botocore.awsrequest import AWSResponse

from policies.gateway.aws import CallRecorder, aws_client


def recorded_client(moto_url: str, service: str = "apigateway", *, max_attempts: int = 8) -> tuple[Any, CallRecorder]:
    client = aws_client(service, region="us-east-1", endpoint_url=moto_url, max_attempts=max_attempts)
    recorder = CallRecorder()
    recorder.attach(client)
    return client, recorder


class _Body:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, *args: Any, **kwargs: Any):
        yield self._body


class Throttler:
    """Answers the first `times` attempts of mutating requests with 429 TooManyRequestsException,
    before they reach moto (botocore's ``before-send`` hook), the way API Gateway throttles.

    With `status` and `code` it answers a 5xx instead (500 InternalFailure, 503 ServiceUnavailable);
    with `after_write` the request reaches moto first and only its answer is lost: the write took
    effect, but the caller saw an error and retries it. With `operations` (e.g. "CreateUsagePlan")
    only requests of those operations are answered so; `service` names the client's service.
    """

    def __init__(
        self,
        times: int,
        *,
        status: int = 429,
        code: str = "TooManyRequestsException",
        after_write: bool = False,
        operations: tuple[str, ...] = (),
        service: str = "apigateway",
    ) -> None:
        self.remaining = times
        self.status, self.code, self.after_write = status, code, after_write
        self.operations = operations
        self.service = service
        self.injected: list[str] = []

    def attach(self, client: Any) -> None:
        events = [f"before-send.{self.service}.{op}" for op in self.operations] or [f"before-send.{self.service}"]
        for event in events:
            client.meta.events.register(event, self)

    def __call__(self, request, **kwargs) -> AWSResponse | None:
        if request.method == "GET" or self.remaining <= 0:
            return None
        self.remaining -= 1
        self.injected.append(f"{request.method} {request.url}")
        if self.after_write:
            import requests

            requests.request(request.method, request.url, headers=dict(request.headers), data=request.body, timeout=30)
        body = json.dumps({"message": self.code}).encode()
        headers = {"x-amzn-ErrorType": self.code, "Content-Type": "application/json"}
        return AWSResponse(request.url, self.status, headers, _Body(body))


def assert_authorizer_on_every_method(client, api_id, plan) -> None:
    """The REST API has gqlgov's REQUEST authorizer, and every route's POST uses it."""
    [authorizer] = client.get_authorizers(restApiId=api_id)["items"]
    assert authorizer["name"] == "gqlgov-decision" and authorizer["type"] == "REQUEST"
    assert authorizer["identitySource"] == "method.request.header.X-Gqlgov-Decision"
    assert authorizer["authorizerResultTtlInSeconds"] == 0
    resources = client.get_resources(restApiId=api_id, embed=["methods"], limit=500)["items"]
    methods = [r["resourceMethods"]["POST"] for r in resources if r["path"].startswith("/graphql")]
    assert len(methods) == len(plan["routes"])
    for method in methods:
        assert method["authorizationType"] == "CUSTOM" and method["authorizerId"] == authorizer["id"]


def counts(calls) -> dict[str, int]:
    result: dict[str, int] = {}
    for call in calls:
        result[call.action] = result.get(call.action, 0) + 1
    return result


class PausingProxy:
    """An HTTP proxy in front of moto that holds the n-th mutating request until released:
    a way to catch a worker in the middle of an export, on a real socket."""

    def __init__(self, upstream: str, pause_at: int) -> None:
        import http.client
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from urllib.parse import urlsplit

        self.paused = threading.Event()
        self.release = threading.Event()
        self.mutating = 0
        upstream_netloc = urlsplit(upstream).netloc
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return None

            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.command != "GET":
                    proxy.mutating += 1
                    if proxy.mutating == pause_at:
                        proxy.paused.set()
                        proxy.release.wait(timeout=60)
                connection = http.client.HTTPConnection(upstream_netloc, timeout=30)
                connection.request(self.command, self.path, body=body, headers=dict(self.headers))
                response = connection.getresponse()
                payload = response.read()
                try:
                    self.send_response(response.status)
                    for name, value in response.getheaders():
                        if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                            self.send_header(name, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the client died (that is the point of the test)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
