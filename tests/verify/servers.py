"""Loopback servers for the verifier's tests: gqlgov's JWKS endpoint (whose keys rotate, and which
can go down) and a tiny graphql-core server behind the WSGI middleware.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from graphql import build_schema, graphql_sync

from gqlgov_verify.jwks import JWKS_PATH

SHOP_SDL = """
type Query { orders(first: Int): [Order] }
type Mutation { deleteOrder(id: ID!): Boolean }
type Order { id: ID! total: Int }
"""


class JwksServer:
    """Serves `document` at gqlgov's JWKS path; `status` other than 200 plays an outage."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.status = 200
        self.requests = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requests += 1
                body = json.dumps(owner.document).encode() if owner.status == 200 else b"unavailable"
                self.send_response(owner.status if self.path == JWKS_PATH else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self._server.server_address[1]}"
        self.url = self.origin + JWKS_PATH

    def __enter__(self) -> JwksServer:
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def graphql_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    """A tiny GraphQL server (graphql-core): orders and deleteOrder, and the decision it was given."""
    request = json.loads(environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)))
    result = graphql_sync(
        build_schema(SHOP_SDL),
        request["query"],
        root_value={
            "orders": lambda info, first=None: [{"id": "o-1", "total": 42}][:first],
            "deleteOrder": lambda info, id: True,
        },
        variable_values=request.get("variables"),
        operation_name=request.get("operationName"),
    )
    decision = environ.get("gqlgov.decision") or {}
    body = json.dumps({"data": result.data, "decision_id": decision.get("decision_id")}).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def wsgi_server(app: Callable[..., Any]) -> Iterator[str]:
    """`app` served by wsgiref on a free loopback port, in a thread; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
