"""HTTP measurements: the real app behind the production server, loaded by `wrk` from a separate process.

Falls back to the Python load generator (`tools.bench.loadgen`) when wrk is not installed.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support import servers

# The server docker-compose runs (gqlgov/gunicorn.conf.py); tests/bench asserts the two agree.
PRODUCTION_SERVER = "gunicorn"
# Settings that switch a hot-path optimisation off, measured as variants of the production server.
VARIANTS = {
    "variant.sync_decision_insert": {"GQLGOV_DECISION_STREAM": "false"},
    "variant.no_auth_cache": {"GQLGOV_AUTH_CACHE": "false"},
    "variant.no_decision_cache": {"GQLGOV_DECISION_CACHE": "false"},
}

_WRK_DONE = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK_JSON {\"requests\": %d, \"duration_us\": %d, \"connect\": %d, \"read\": %d, \"write\": %d, " ..
    "\"status\": %d, \"timeout\": %d, \"p50_us\": %d, \"p99_us\": %d}\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


@dataclass(frozen=True)
class Load:
    """One request shape to replay: method, path, headers, body."""

    method: str
    path: str
    headers: dict[str, str]
    body: str = ""


@dataclass(frozen=True)
class LoadResult:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int  # non-2xx answers plus socket errors and timeouts

    @property
    def ok(self) -> int:
        return self.requests - self.errors


def _lua_string(text: str) -> str:
    level = "=" * 4
    assert f"]{level}]" not in text
    return f"[{level}[{text}]{level}]"


def run_load(base: str, load: Load, *, concurrency: int, duration_s: float, workdir: Path) -> LoadResult:
    """Replays `load` against `base` at fixed concurrency for a fixed time, from a separate process."""
    wrk = shutil.which("wrk")
    if wrk is None:
        command = [sys.executable, "-m", "tools.bench.loadgen", base + load.path, "--method", load.method,
                   "--concurrency", str(concurrency), "--duration", str(duration_s),
                   "--body", load.body, *[arg for name, value in load.headers.items()
                                          for arg in ("--header", f"{name}: {value}")]]
    else:
        script = workdir / f"wrk-{secrets.token_hex(4)}.lua"
        lines = [f"wrk.method = {_lua_string(load.method)}"]
        if load.body:
            lines.append(f"wrk.body = {_lua_string(load.body)}")
        lines += [f"wrk.headers[ {_lua_string(name)} ] = {_lua_string(value)}" for name, value in load.headers.items()]
        script.write_text("\n".join(lines) + _WRK_DONE)
        threads = max(1, min(2, concurrency))
        command = [wrk, f"-t{threads}", f"-c{concurrency}", f"-d{max(1, round(duration_s))}s", "--timeout", "5s",
                   "-s", str(script), base + load.path]
    # From the repository root: `python -m tools.bench.loadgen` finds tools/ wherever bench was started.
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=duration_s + 60,
                            cwd=servers.ROOT)
    line = next((line for line in result.stdout.splitlines() if line.startswith("WRK_JSON ")), None)
    if line is None:
        output = f"{result.stdout[-999:]} {result.stderr[-999:]}"
        raise RuntimeError(f"load generator failed ({result.returncode}): {output}")
    data = json.loads(line.removeprefix("WRK_JSON "))
    errors = data["connect"] + data["read"] + data["write"] + data["status"] + data["timeout"]
    seconds = data["duration_us"] / 1e6
    return LoadResult(rps=round(data["requests"] / seconds, 1), p50_ms=round(data["p50_us"] / 1000, 3),
                      p99_ms=round(data["p99_us"] / 1000, 3), requests=data["requests"], errors=errors)


def check_load(token: str, schema: str, query: str) -> Load:
    body = json.dumps({"schema": schema, "query": query, "variables": {}}, separators=(",", ":"))
    return Load("POST", "/api/v1/check", {"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
                body)


# Loads a peer beside the production server's check: (its base URL, the check's load, the processes
# a check keeps busy, the work directory) -> (report keys, checks answered).
PeerRounds = Callable[[str, Load, dict[str, list[int]], Path], tuple[dict[str, Any], int]]

HEALTH = Load("GET", "/api/v1/health", {})


def _json_bytes(value: Any) -> bytes:
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 50_000))
    try:
        return json.dumps(value).encode("utf-8", "surrogatepass")
    finally:
        sys.setrecursionlimit(limit)


def hostile_bodies(schema: str) -> list[tuple[str, bytes]]:
    """The engine's hostile corpus as check bodies, plus the request-level classes (bodies, not documents)."""
    from policies.engine.hostile import hostile_corpus, nested_json

    cases = [(name, _json_bytes({"schema": schema, "query": query, "variables": variables}))
             for name, query, variables in hostile_corpus()]
    cases += [
        ("non_utf8_body", b'{"query": "{ order(id: 1) { id } }", "x": "\xff\xfe"}'),
        ("json_array_batching", _json_bytes([{"schema": schema, "query": "{ __typename }"}] * 100)),
        ("deeply_nested_json_body",
         b'{"query": "{ __typename }", "variables": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"),
        # Decodable JSON, deeper than the CEL evaluator can take natively on a small thread stack.
        ("deeply_nested_context", _json_bytes({"query": "{ __typename }", "context": nested_json(900)})),
        ("invalid_json", b'{"query": '),
        ("two_megabyte_body", b'{"query": "' + b" " * (2 << 20) + b'"}'),
        ("query_not_a_string", _json_bytes({"schema": schema, "query": {"a": 1}})),
    ]
    return cases


def run_hostile(base: str, token: str, schema: str) -> dict[str, Any]:
    """Every hostile case once over HTTP: the slowest answer and how many were 5xx (or no answer at all)."""
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    times: dict[str, float] = {}
    statuses: dict[str, int] = {}
    for name, body in hostile_bodies(schema):
        begin = time.perf_counter()
        try:
            status, _payload = servers.post(base, "/api/v1/check", body, headers)
        except (OSError, http.client.HTTPException):
            status = 599  # no answer counts as a server error
        times[name] = round((time.perf_counter() - begin) * 1000, 2)
        statuses[name] = status
    slowest = max(times, key=times.__getitem__)
    return {
        "hostile.max_ms": times[slowest],
        "hostile.slowest": slowest,
        "hostile.errors_5xx": sum(1 for status in statuses.values() if status >= 500),
        "hostile.cases": len(statuses),
        "hostile.statuses": statuses,
        "hostile.ms": times,
    }


def merged(results: list[LoadResult]) -> LoadResult:
    """Rounds of one load as one result: total answers over total time; median p50, worst p99."""
    seconds = sum(result.requests / result.rps for result in results if result.rps)
    requests = sum(result.requests for result in results)
    p50s = sorted(result.p50_ms for result in results)
    return LoadResult(rps=round(requests / seconds, 1) if seconds else 0.0, p50_ms=p50s[len(p50s) // 2],
                      p99_ms=max(result.p99_ms for result in results), requests=requests,
                      errors=sum(result.errors for result in results))


def cpu_used(roles: dict[str, list[int]], *, load_generator: bool = True) -> Counter[str]:
    """CPU seconds used so far by the processes a load keeps busy, by role (the web server's master
    and workers, the drainer and Redis when on this machine), plus (unless `load_generator` is
    false) the load generator: this process's finished children (wrk runs, and exits, once per load)."""
    used = Counter({role: sum(servers.cpu_s(pid) for pid in pids) for role, pids in roles.items()})
    if load_generator:
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        used["load_generator"] = children.ru_utime + children.ru_stime
    return used


def server_roles(process, side_pids: dict[str, list[int]]) -> dict[str, list[int]]:
    """The processes a check keeps busy, by role: the web server's master and workers, then `side_pids`."""
    workers = servers.children(process.pid) or [process.pid]
    return {"server": sorted({process.pid, *workers}), **side_pids}


def _per_request_us(spent: Counter[str], requests: int) -> dict[str, float]:
    return {role: round(seconds * 1e6 / requests, 1) for role, seconds in sorted(spent.items())} if requests else {}


def _server_numbers(base: str, process, load_check: Load, load_open: Load, *, concurrency: int, duration_s: float,
                    workdir: Path, side_pids: dict[str, list[int]]) -> dict[str, Any]:
    def load(shape: Load, seconds: float = duration_s) -> LoadResult:
        return run_load(base, shape, concurrency=concurrency, duration_s=seconds, workdir=workdir)

    # Warm-up: every worker builds the schemas (gqlgov/gunicorn.conf.py's post_worker_init does it
    # before a worker accepts) and fills its caches before anything is timed; repeated until both
    # check loads are answered, so a slow build under a busy machine cannot leak into the numbers.
    warm: list[LoadResult] = []
    for _attempt in range(10):
        warm += [load(load_check, min(3.0, duration_s)), load(load_open, 1.0)]
        if warm[-1].ok and warm[-2].ok:
            break
    load(HEALTH, 1.0)
    roles = server_roles(process, side_pids)
    workers = [pid for pid in roles["server"] if pid != process.pid] or [process.pid]
    # Bare and check alternate in rounds of ~2 s: on a shared machine the background load drifts,
    # and the ratio must compare the two endpoints under the same conditions.
    rounds = max(1, round(duration_s / 2))
    shapes = {"bare": HEALTH, "check": load_check}
    results: dict[str, list[LoadResult]] = {name: [] for name in shapes}
    spent: dict[str, Counter[str]] = {name: Counter() for name in shapes}
    for _round in range(rounds):
        for name, shape in shapes.items():
            before = cpu_used(roles)
            results[name].append(load(shape, duration_s / rounds))
            spent[name].update(cpu_used(roles) - before)
    bare, check = merged(results["bare"]), merged(results["check"])
    # The health check touches neither Redis nor the drainer: what they do during its rounds is
    # the drainer storing the records of the check round before, so it is the check's.
    for role in side_pids:
        spent["check"][role] += spent["bare"].pop(role, 0.0)
    cpu_us = {"bare": _per_request_us(spent["bare"], bare.requests),
              "check": _per_request_us(spent["check"], check.requests)}
    check_open = load(load_open)
    return {
        "answered_checks": sum(result.ok for result in [*warm, *results["check"], check_open]),
        "bare": bare,
        "check": check,
        "check_open": check_open,
        "cpu_us": cpu_us,
        "rss_mb": max(servers.rss_mb(pid) for pid in workers),
        "workers": len(workers),
    }


def _variant_numbers(production: str, variant: str, load_check: Load, *, concurrency: int, duration_s: float,
                     workdir: Path) -> tuple[dict[str, Any], int]:
    """A variant's check load in rounds alternating with the production server's, so the two are
    compared under the same background load; and how many checks both answered."""
    def load(base: str, seconds: float) -> LoadResult:
        return run_load(base, load_check, concurrency=concurrency, duration_s=seconds, workdir=workdir)

    warm = [load(production, 1.0), load(variant, 2.0)]
    rounds = max(1, round(duration_s / 2))
    results: dict[str, list[LoadResult]] = {production: [], variant: []}
    for index in range(rounds):
        for base in (production, variant) if index % 2 == 0 else (variant, production):
            results[base].append(load(base, duration_s / rounds))
    ours, theirs = merged(results[variant]), merged(results[production])
    answered = sum(result.ok for result in [*warm, *results[production], *results[variant]])
    return {
        "check_warm_rps": ours.rps, "check_warm_p50_ms": ours.p50_ms, "check_warm_p99_ms": ours.p99_ms,
        "production_check_warm_rps": theirs.rps,
        "vs_production": round(ours.rps / theirs.rps, 3) if theirs.rps else None,
    }, answered


def _summary(numbers: dict[str, Any]) -> dict[str, Any]:
    bare, check, check_open = numbers["bare"], numbers["check"], numbers["check_open"]
    bare_cpu, check_cpu = (sum(numbers["cpu_us"][name].values()) for name in ("bare", "check"))
    return {
        "bare_rps": bare.rps, "check_warm_rps": check.rps,
        "ratio_warm": round(check.rps / bare.rps, 3) if bare.rps else None,
        "bare_p50_ms": bare.p50_ms, "bare_p99_ms": bare.p99_ms,
        "check_warm_p50_ms": check.p50_ms, "check_warm_p99_ms": check.p99_ms,
        "cpu_us": numbers["cpu_us"],
        "cpu_ratio_warm": round(bare_cpu / check_cpu, 3) if bare_cpu and check_cpu else None,
        "check_limiter_off_rps": check_open.rps,
        "limiter_on_vs_off": round(check.rps / check_open.rps, 3) if check_open.rps else None,
        "errors": bare.errors + check.errors + check_open.errors,
        "workers": numbers["workers"], "rss_mb": numbers["rss_mb"],
    }


def run_http(*, sdl: str, query: str, workers: int, concurrency: int, duration_s: float, candidates: bool,
             compare_variants: bool, database_url: str | None, redis_url: str | None,
             peers: PeerRounds | None = None) -> dict[str, Any]:
    """All HTTP numbers of one run; the top-level `http.*` keys are the production server's.
    `peers` (tools/bench/peers_bench.py) loads a peer in rounds alternating with the production server's check."""
    with contextlib.ExitStack() as stack:
        # GQLGOV_BENCH_KEEP=1 keeps the work directory (server, drainer and Redis logs) for a post-mortem.
        workdir = Path(tempfile.mkdtemp(prefix="gqlgov-bench-") if os.environ.get("GQLGOV_BENCH_KEEP")
                       else stack.enter_context(tempfile.TemporaryDirectory(prefix="gqlgov-bench-")))
        (workdir / "data").mkdir()
        redis = redis_url or stack.enter_context(servers.redis_server(workdir))
        database = stack.enter_context(servers.bench_database(workdir, database_url))
        environment = servers.BenchEnvironment(workdir, database, redis, extra={
            "GQLGOV_DECISION_STREAM": "true",
            "GQLGOV_DECISION_STREAM_KEY": f"gqlgov:bench:{secrets.token_hex(4)}:decisions",
        })
        (workdir / "schema.graphql").write_text(sdl)
        environment.manage("migrate", "--noinput")
        seeded = json.loads(environment.module("tests.support.seed", "seed", str(workdir / "schema.graphql")))
        token = seeded["token"]
        load_check = check_load(token, "bench", query)
        # What signing costs inside a warm check, in one process on this run's database and Redis.
        (workdir / "query.graphql").write_text(query)
        signing = json.loads(environment.module("tools.bench.sign_bench", token, "bench",
                                                str(workdir / "query.graphql"), "300" if duration_s < 5 else "1500"))
        acknowledged = signing["sign.check_us"]["checks"]  # their records are drained with the rest
        # What the MCP server adds to a check, in one process likewise (tools/bench/mcp_bench.py).
        repeat = "300" if duration_s < 5 else "1500"
        mcp_in_process = json.loads(environment.module("tools.bench.mcp_bench", token, "bench",
                                                       str(workdir / "query.graphql"), repeat))
        acknowledged += mcp_in_process["mcp.in_process_us"]["checks"]
        load_open = check_load(token, "bench_open", query)
        kinds = [PRODUCTION_SERVER]
        if candidates:
            kinds += [kind for kind in servers.SERVERS if kind != PRODUCTION_SERVER
                      and (kind != "granian" or servers.granian_available())]
        results: dict[str, Any] = {}
        hostile: dict[str, Any] = {}
        mcp: dict[str, Any] = {}
        peer_report: dict[str, Any] = {}
        with servers.drainer(environment) as drainer:
            redis_pid = servers.redis_pid(redis)
            side_pids = {"drainer": [drainer.pid], **({"redis": [redis_pid]} if redis_pid else {})}
            for kind in kinds:
                with servers.web_server(environment, kind, workers) as (base, process):
                    numbers = _server_numbers(base, process, load_check, load_open, concurrency=concurrency,
                                              duration_s=duration_s, workdir=workdir, side_pids=side_pids)
                    acknowledged += numbers["answered_checks"]
                    if kind == PRODUCTION_SERVER:
                        hostile = run_hostile(base, token, "shop")
                        acknowledged += sum(1 for status in hostile["hostile.statuses"].values() if status == 200)
                        mcp = _mcp_numbers(base, process, side_pids, token, query, concurrency=concurrency,
                                           duration_s=duration_s, workdir=workdir)
                        acknowledged += mcp.pop("mcp.answered_checks")
                        if peers is not None:
                            peer_report, answered = peers(base, load_check, server_roles(process, side_pids), workdir)
                            acknowledged += answered
                        # The hot-path changes switched off one at a time, against this server.
                        for name, overrides in (VARIANTS.items() if compare_variants else ()):
                            with servers.web_server(environment, PRODUCTION_SERVER, workers,
                                                    **overrides) as (variant_base, _process):
                                results[name], answered = _variant_numbers(
                                    base, variant_base, load_check, concurrency=concurrency,
                                    duration_s=duration_s, workdir=workdir)
                            acknowledged += answered
                results[kind] = _summary(numbers)
            stored = _wait_for_drain(environment, acknowledged)
        production = results[PRODUCTION_SERVER]
        report: dict[str, Any] = {f"http.{key}": value for key, value in production.items()
                                  if key not in ("rss_mb", "check_limiter_off_rps", "limiter_on_vs_off")}
        report.update({
            "http.server": PRODUCTION_SERVER,
            "http.concurrency": concurrency,
            "http.duration_s": duration_s,
            "http.database": database.split(":", 1)[0],
            "http.load_generator": "wrk" if shutil.which("wrk") else "python",
            "http.candidates": {kind: value for kind, value in results.items()
                                if kind != PRODUCTION_SERVER and not kind.startswith("variant.")},
            "http.variants": {kind: value for kind, value in results.items() if kind.startswith("variant.")},
            "limiter.check_rps_on": production["check_warm_rps"],
            "limiter.check_rps_off": production["check_limiter_off_rps"],
            "limiter.on_vs_off": production["limiter_on_vs_off"],
            "memory.rss_mb": production["rss_mb"],
            "records.acknowledged_checks": acknowledged,
            "records.stored": stored,
            "records.lost": max(0, acknowledged - stored),
            **signing,
            **hostile,
            **mcp_in_process,
            **mcp,
            **peer_report,
        })
        return report


def _mcp_numbers(base: str, process, side_pids: dict[str, list[int]], token: str, query: str,
                 **load: Any) -> dict[str, Any]:
    """MCP's check_graphql against POST /check on the production server (tools/bench/mcp_bench.py)."""
    from tools.bench.mcp_bench import measure_http

    roles = {"server": sorted({process.pid, *(servers.children(process.pid) or [])}), **side_pids}
    return measure_http(base, roles, token, "bench", query, **load)


def _wait_for_drain(environment: servers.BenchEnvironment, at_least: int, timeout_s: float = 60.0) -> int:
    deadline = time.monotonic() + timeout_s
    while True:
        stored = json.loads(environment.module("tests.support.seed", "count"))["decisions"]
        if stored >= at_least or time.monotonic() > deadline:
            return int(stored)
        time.sleep(1)
