"""The official MCP SDK's server and Streamable HTTP transport (stateless, JSON responses), driven
from a sync WSGI request.

gunicorn's sync workers (the production server) run one request at a time per thread with no event
loop, and the tools are sync Django code (the ORM refuses to run inside a running event loop). So
each thread keeps one event loop, with the SDK's session manager running on it, and runs it only
while it serves a request (`ThreadRunner.serve`). When a tool handler needs Django, it hands the
call back to this same thread (`in_request_thread`): the loop stops, the call runs here with no
loop running (same database connection, same context variables), and the loop resumes with its
answer. Measured against the alternatives (docs/performance-log.md): asgiref's async_to_sync (a
new thread and loop per request, tools on a thread of their own) cost several times more.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import mcp_types as types
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest
from mcp.server.lowlevel.server import Server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.shared.exceptions import MCPError

from gqlgov import jsonfast
from policies.mcp import tools

SERVER_NAME = "gqlgov"
# The Django request of the exchange, in the ASGI scope the SDK hands its handlers (ctx.request).
DJANGO_REQUEST_KEY = "gqlgov.django_request"

INSTRUCTIONS = (
    "gqlgov governs which GraphQL requests you may make. Start with list_operations (what you may call) and "
    "get_schema (your own schema), then call check_graphql for every document before running it. A `deny` "
    "is final for that document: read the reasons and hints, change the document, check again. "
    "`pending_approval` waits for a person: poll get_approval."
)


def _tool(spec: tools.ToolSpec) -> types.Tool:
    return types.Tool(name=spec.name, title=spec.title, description=spec.description,
                      input_schema=spec.input_schema, output_schema=spec.output_schema)


_TOOL_LIST = types.ListToolsResult(tools=[_tool(spec) for spec in tools.TOOLS])
# The SDK checks a tools/call's Mcp-Param-* headers against the properties its tool's inputSchema
# annotates with x-mcp-header; a tool without any has nothing to check, and answering None for it
# spares the SDK walking the schema on every call (measured: docs/performance-log.md).
_HEADER_ANNOTATED_SCHEMAS = {spec.name: spec.input_schema for spec in tools.TOOLS
                             if "x-mcp-header" in json.dumps(spec.input_schema)}


async def _list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
    return _TOOL_LIST


async def _call_tool(ctx: Any, params: types.CallToolRequestParams) -> dict[str, Any]:
    if params.name not in tools.TOOLS_BY_NAME:
        # An unknown tool is the protocol's error (INVALID_PARAMS), not a tool's result.
        raise MCPError(code=types.INVALID_PARAMS, message=f"Unknown tool: {params.name[:100]}")
    request: HttpRequest = ctx.request.scope[DJANGO_REQUEST_KEY]
    runner = runner_of_this_thread()
    try:
        data = await runner.in_request_thread(tools.call, request, params.name, dict(params.arguments or {}))
    except tools.ToolError as error:
        return _result(error.body, is_error=True)
    return _result(data, is_error=False)


def _result(data: dict[str, Any], *, is_error: bool) -> dict[str, Any]:
    """The CallToolResult in its wire form. The SDK validates every spec result against the
    protocol revision's model before it sends it (ServerRunner._serialize), so building the
    pydantic model here too only validated and dumped the same data once more (measured:
    docs/performance-log.md)."""
    # The same JSON as text, for clients that read no structured content (the spec's advice).
    text = jsonfast.dumps(data, default=DjangoJSONEncoder().default).decode()
    # resultType: required from revision 2026-07-28 on; the SDK drops it for older revisions.
    return {"content": [{"type": "text", "text": text}], "structuredContent": data, "isError": is_error,
            "resultType": "complete"}


def build_server() -> Server[Any]:
    server = Server(SERVER_NAME, version="1", instructions=INSTRUCTIONS, on_list_tools=_list_tools,
                    get_tool_input_schema=_HEADER_ANNOTATED_SCHEMAS.get)
    # Registered as a plain request handler, which may answer the wire dict (`on_call_tool` is
    # typed to answer the model).
    server.add_request_handler("tools/call", types.CallToolRequestParams, _call_tool)
    # The SDK's default middleware opens an OpenTelemetry span per message: a no-op tracer's
    # work while no OpenTelemetry SDK is installed, and gqlgov installs none (7-14 µs a request;
    # the SDK documents dropping it as the opt-out). A deployment that adds one puts it back here.
    server.middleware = []
    return server


@dataclass
class Exchange:
    """One HTTP exchange as the ASGI app sees it, and the answer it gave."""

    scope: dict[str, Any]
    body: bytes
    status: int = 500
    headers: list[tuple[str, str]] = field(default_factory=list)
    chunks: list[bytes] = field(default_factory=list)
    _delivered: bool = False
    _done: asyncio.Event = field(default_factory=asyncio.Event)

    async def receive(self) -> dict[str, Any]:
        if not self._delivered:
            self._delivered = True
            return {"type": "http.request", "body": self.body, "more_body": False}
        await self._done.wait()  # the client "leaves" once the whole answer was sent
        return {"type": "http.disconnect"}

    async def send(self, message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in message["headers"]]
        elif message["type"] == "http.response.body":
            self.chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                self._done.set()


class ThreadRunner:
    """This thread's event loop with the SDK's session manager running on it (see the module doc)."""

    def __init__(self, server: Server[Any]) -> None:
        self.loop = asyncio.new_event_loop()
        self.manager = StreamableHTTPSessionManager(server, json_response=True, stateless=True,
                                                    max_request_body_size=settings.GQLGOV_MAX_BODY_BYTES)
        self._jobs: list[tuple[asyncio.Future[Any], Callable[..., Any], tuple[Any, ...]]] = []
        # Resolved when the exchange is answered or a handler hands a call back: the loop then stops.
        self._stop: asyncio.Future[None] | None = None
        started = asyncio.Event()
        # Kept suspended on the loop between requests: the manager stays entered (run() once).
        self._manager_task = self.loop.create_task(self._run_manager(started))
        self.loop.run_until_complete(started.wait())

    async def _run_manager(self, started: asyncio.Event) -> None:
        async with self.manager.run():
            started.set()
            await asyncio.Event().wait()

    def _stop_loop(self, *_args: Any) -> None:
        if self._stop is not None and not self._stop.done():
            self._stop.set_result(None)

    async def in_request_thread(self, function: Callable[..., Any], *args: Any) -> Any:
        """`function(*args)` run by the thread serving the request, outside the event loop."""
        future: asyncio.Future[Any] = self.loop.create_future()
        self._jobs.append((future, function, args))
        self._stop_loop()
        return await future

    def serve(self, exchange: Exchange) -> Exchange:
        """Runs the SDK's transport for one exchange, and the sync calls its handlers hand back."""
        task = self.loop.create_task(self.manager.handle_request(exchange.scope, exchange.receive, exchange.send))
        task.add_done_callback(self._stop_loop)
        while True:
            self._stop = self.loop.create_future()
            if task.done():
                self._stop.set_result(None)
            self.loop.run_until_complete(self._stop)
            while self._jobs:
                future, function, args = self._jobs.pop(0)
                try:
                    future.set_result(function(*args))
                except Exception as error:  # handed back to the handler that asked, as its own
                    future.set_exception(error)
            if task.done():
                task.result()
                return exchange


_local = threading.local()
_server: Server[Any] | None = None


def runner_of_this_thread() -> ThreadRunner:
    global _server
    runner: ThreadRunner | None = getattr(_local, "runner", None)
    if runner is None:
        if _server is None:
            _server = build_server()
        runner = _local.runner = ThreadRunner(_server)
    return runner
