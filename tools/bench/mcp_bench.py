"""What the MCP server adds to a check: `check_graphql` over POST /mcp against POST /api/v1/check,
the same document, token and schema, in the same run.

- `mcp.in_process_us`: the two as WSGI requests through django.test.Client in one process, paired
  in alternating calls (paired_median_us), on the HTTP run's database and Redis.
- Over HTTP (`measure_http`), both served by the production server configuration and loaded by
  wrk in alternating rounds: `mcp.cpu_us` is each request's CPU by process (web server, drainer,
  Redis), `mcp.rps` their throughput at the same concurrency.
- `mcp.check_overhead_ratio`: the MCP check's CPU over the REST check's, all the service's
  processes (what a deployment pays per check); the target is < 1.15.

`python -m tools.bench.mcp_bench TOKEN SCHEMA QUERY_FILE [REPEAT]` prints `mcp.in_process_us` (the
HTTP run starts it in the bench's environment, before its servers).
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from tools.bench.http_bench import Load, LoadResult, _per_request_us, check_load, cpu_used, merged, run_load

# The revision the official SDK speaks (mcp_types.LATEST_PROTOCOL_VERSION), read lazily: this
# module is imported by the bench command before Django is set up, and mcp is a product dependency.
_ENVELOPE_KEYS = ("io.modelcontextprotocol/protocolVersion", "io.modelcontextprotocol/clientCapabilities")


def _version() -> str:
    import mcp_types

    return str(mcp_types.LATEST_PROTOCOL_VERSION)


def mcp_check_request(schema: str, query: str) -> tuple[str, dict[str, str]]:
    """A `tools/call` of check_graphql as the official client sends it: its body and MCP headers."""
    version = _version()
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
        "name": "check_graphql", "arguments": {"schema": schema, "query": query, "variables": {}},
        "_meta": dict(zip(_ENVELOPE_KEYS, (version, {}), strict=True))}}
    headers = {"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": version,
               "Mcp-Method": "tools/call", "Mcp-Name": "check_graphql"}
    return json.dumps(body, separators=(",", ":")), headers


def mcp_check_load(token: str, schema: str, query: str) -> Load:
    body, headers = mcp_check_request(schema, query)
    return Load("POST", "/mcp", {"Content-Type": "application/json", "Authorization": f"Bearer {token}", **headers},
                body)


def in_process_numbers(token: str, schema: str, query: str, repeat: int) -> dict[str, Any]:
    """`mcp.in_process_us`: median µs of the REST check and of the MCP check, their ratio, and the
    checks answered (each leaves a decision record)."""
    from django.test import Client

    from tools.bench.engine_bench import paired_median_us

    client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {token}")
    rest_body = json.dumps({"schema": schema, "query": query, "variables": {}})
    mcp_body, mcp_headers = mcp_check_request(schema, query)
    mcp_meta = {"HTTP_" + name.upper().replace("-", "_"): value for name, value in mcp_headers.items()}
    answered = 0

    def rest() -> None:
        nonlocal answered
        response = client.post("/api/v1/check", rest_body, content_type="application/json")
        answered += 1
        if response.status_code != 200 or b'"decision":"allow"' not in response.content:
            raise RuntimeError(f"unexpected check answer {response.status_code}: {response.content[:300]!r}")

    def mcp() -> None:
        nonlocal answered
        response = client.post("/mcp", mcp_body, content_type="application/json", **mcp_meta)
        answered += 1
        if response.status_code != 200 or b'"decision":"allow"' not in response.content:
            raise RuntimeError(f"unexpected MCP answer {response.status_code}: {response.content[:300]!r}")

    rest_us, mcp_us = paired_median_us(rest, mcp, repeat=repeat)
    return {"mcp.in_process_us": {"check": round(rest_us, 1), "mcp": round(mcp_us, 1),
                                  "ratio": round(mcp_us / rest_us, 3), "checks": answered}}


def measure_http(base: str, roles: dict[str, list[int]], token: str, schema: str, query: str, *, concurrency: int,
                 duration_s: float, workdir: Path) -> dict[str, Any]:
    """Both checks over HTTP in alternating rounds against one warm server; `roles` are the
    service's processes whose CPU is counted (the load generator's is reported apart)."""
    shapes = {"check": check_load(token, schema, query), "mcp": mcp_check_load(token, schema, query)}
    # Warm: caches filled, every worker's MCP runner started.
    warm = [run_load(base, shape, concurrency=concurrency, duration_s=min(2.0, duration_s), workdir=workdir)
            for shape in shapes.values()]
    rounds = max(2, round(duration_s / 2))
    results: dict[str, list[LoadResult]] = {name: [] for name in shapes}
    spent: dict[str, Counter[str]] = {name: Counter() for name in shapes}
    for index in range(rounds):
        for name in (("check", "mcp") if index % 2 == 0 else ("mcp", "check")):
            before = cpu_used(roles)
            results[name].append(run_load(base, shapes[name], concurrency=concurrency,
                                          duration_s=duration_s / rounds, workdir=workdir))
            spent[name].update(cpu_used(roles) - before)
    totals = {name: merged(found) for name, found in results.items()}
    cpu_us = {name: _per_request_us(spent[name], totals[name].requests) for name in shapes}
    service = {name: sum(us for role, us in cpu_us[name].items() if role != "load_generator") for name in shapes}
    server = {name: cpu_us[name].get("server", 0.0) for name in shapes}
    check, mcp = totals["check"], totals["mcp"]
    return {
        "mcp.check_overhead_ratio": round(service["mcp"] / service["check"], 3) if service["check"] else None,
        "mcp.server_cpu_ratio": round(server["mcp"] / server["check"], 3) if server["check"] else None,
        "mcp.cpu_us": cpu_us,
        "mcp.rps": {"check": check.rps, "mcp": mcp.rps},
        "mcp.rps_ratio": round(check.rps / mcp.rps, 3) if mcp.rps else None,
        "mcp.p50_ms": {"check": check.p50_ms, "mcp": mcp.p50_ms},
        "mcp.errors": check.errors + mcp.errors,
        "mcp.answered_checks": check.ok + mcp.ok + sum(result.ok for result in warm),
    }


if __name__ == "__main__":
    import os

    from tools.bench import sign_bench

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gqlgov.settings")
    sign_bench.main(sys.argv[1:], numbers=in_process_numbers)
