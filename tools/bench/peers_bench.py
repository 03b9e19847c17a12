"""`manage.py bench --peers`: gqlgov against the systems a user would deploy instead, in the same run.

- Cerbos, a policy decision point (Go): `cerbos server` with a resource policy equivalent to the
  bench's rules, loaded over HTTP (`POST /api/check/resources`) by the load generator of the HTTP
  numbers at their concurrency, in rounds alternating with gqlgov's `/api/v1/check`.
- GraphQL Armor on graphql-js: cold parse + validate + Armor's limits in Node on the bench's
  documents and schema, in rounds alternating with gqlgov's cold analysis; and the hostile corpus.

The peers come from the npm registry, pinned by tools/bench/peers/package-lock.json, installed with
`npm ci` into var/peers/. When they cannot be installed, `peers.unavailable` says why and the rest
of the bench runs.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import statistics
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support import servers
from tests.support.ports import free_port
from tools.bench.http_bench import Load, LoadResult, PeerRounds, cpu_used, merged, run_load

PACKAGE = Path(__file__).resolve().parent / "peers"
INSTALL_ROOT = servers.ROOT / "var" / "peers"
CERBOS_BINARY = Path("node_modules/@cerbos/cerbos-linux-x64/cerbos-linux-x64")
# At least the five alternating rounds the comparison is read from.
MIN_ROUNDS = 5


class PeersUnavailable(Exception):
    """The peers could not be installed or started (no network, no node/npm): the report says why."""


def install(root: Path = INSTALL_ROOT) -> Path:
    """The directory holding the peers' node_modules, installed with `npm ci` from the committed
    lock file (skipped when that lock is what is installed already)."""
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        raise PeersUnavailable("node and npm are needed to install the peers")
    target = root / "bench"
    lock = (PACKAGE / "package-lock.json").read_text()
    installed = target / "node_modules" / ".package-lock.json"
    if installed.is_file() and (target / "package-lock.json").is_file() \
            and (target / "package-lock.json").read_text() == lock and (target / CERBOS_BINARY).is_file():
        return target
    target.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copyfile(PACKAGE / name, target / name)
    try:
        result = subprocess.run([npm, "ci", "--prefix", str(target), "--ignore-scripts", "--no-audit", "--no-fund"],
                                capture_output=True, text=True, timeout=600, check=False)
    except subprocess.TimeoutExpired as error:
        raise PeersUnavailable("npm ci did not finish within 10 minutes") from error
    if result.returncode != 0 or not (target / CERBOS_BINARY).is_file():
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        raise PeersUnavailable(f"npm ci failed ({result.returncode}): {' / '.join(tail)}")
    return target


# --- Cerbos ---------------------------------------------------------------------------------------

RESOURCE = "graphql_operation"


def cerbos_policy(operations: list[str], *, group: str) -> str:
    """The bench's rule as a Cerbos resource policy: every query root field of the schema is an
    action, allowed to any role when the principal's attributes name the bench group and an AI
    agent (gqlgov's rule matches the group; the kind is a second condition on attributes)."""
    policy = {
        "apiVersion": "api.cerbos.dev/v1",
        "resourcePolicy": {
            "version": "default",
            "resource": RESOURCE,
            "rules": [{
                "name": "bench-reads",
                "actions": operations,
                "effect": "EFFECT_ALLOW",
                "roles": ["*"],
                "condition": {"match": {"all": {"of": [
                    {"expr": f'"{group}" in request.principal.attr.groups'},
                    {"expr": 'request.principal.attr.kind == "ai"'},
                ]}}},
            }],
        },
    }
    return json.dumps(policy, indent=1)  # JSON is YAML: Cerbos reads it as a .yaml policy file


def cerbos_request(root_fields: list[str], *, agent: str, group: str) -> Load:
    """One check of the bench document's root fields for the bench agent, as Cerbos's HTTP API takes it."""
    body = {
        "requestId": "bench",
        "principal": {"id": agent, "roles": ["agent"],
                      "attr": {"groups": [group, "support"], "kind": "ai", "team": "support"}},
        "resources": [{"resource": {"kind": RESOURCE, "id": "bench-document"}, "actions": root_fields}],
    }
    return Load("POST", "/api/check/resources", {"Content-Type": "application/json"},
                json.dumps(body, separators=(",", ":")))


@contextlib.contextmanager
def cerbos_server(installed: Path, workdir: Path, policy: str) -> Iterator[tuple[str, subprocess.Popen]]:
    """`cerbos server` on a free loopback port with `policy` on disk, audit and telemetry off (its
    defaults for a self-hosted PDP); yields its base URL and process."""
    policies = workdir / "cerbos-policies"
    policies.mkdir(exist_ok=True)
    (policies / "graphql_operation.yaml").write_text(policy)
    http_port, grpc_port = free_port(), free_port()
    config = workdir / "cerbos.yaml"
    config.write_text(json.dumps({
        "server": {"httpListenAddr": f"127.0.0.1:{http_port}", "grpcListenAddr": f"127.0.0.1:{grpc_port}"},
        "storage": {"driver": "disk", "disk": {"directory": str(policies), "watchForChanges": False}},
        "audit": {"enabled": False},
        "telemetry": {"disabled": True},
    }))
    log = open(workdir / "cerbos.log", "wb")
    process = subprocess.Popen([str(installed / CERBOS_BINARY), "server", f"--config={config}", "--log-level=error"],
                               stdout=log, stderr=subprocess.STDOUT, cwd=workdir, start_new_session=True,
                               env={"PATH": "/usr/bin:/bin", "CERBOS_NO_TELEMETRY": "1"})
    base = f"http://127.0.0.1:{http_port}"
    try:
        servers.wait_until(f"{base}/_cerbos/health", timeout_s=60, process=process)
        yield base, process
    finally:
        servers.stop(process)
        log.close()


@dataclass(frozen=True)
class CerbosSetup:
    """What the HTTP run needs to put Cerbos beside gqlgov's check."""

    installed: Path
    operations: list[str]  # the schema's query root fields: the policy's actions
    root_fields: list[str]  # the bench document's: each request's actions
    agent: str
    group: str
    concurrency: int
    round_s: float
    rounds: int


def _allowed(status: int, payload: bytes) -> bool:
    if status != 200:
        return False
    results = json.loads(payload)["results"]
    return all(effect == "EFFECT_ALLOW" for result in results for effect in result["actions"].values())


def cerbos_rounds(setup: CerbosSetup, gqlgov_base: str, load_check: Load, roles: dict[str, list[int]],
                  workdir: Path) -> tuple[dict[str, Any], int]:
    """Cerbos and gqlgov's check in alternating rounds (one peer round, one gqlgov round); each
    side's CPU per request over all its processes (gqlgov's web server, Redis and drainer; Cerbos's
    one process), the load generator counted for neither. Returns the `peers.*` keys and how many
    of gqlgov's checks were answered (their records are drained with the rest)."""
    load = cerbos_request(setup.root_fields, agent=setup.agent, group=setup.group)
    with cerbos_server(setup.installed, workdir, cerbos_policy(setup.operations, group=setup.group)) as (base,
                                                                                                        process):
        status, payload = servers.post(base, load.path, load.body.encode(), load.headers)
        if not _allowed(status, payload):
            raise PeersUnavailable(f"Cerbos did not allow the bench's check ({status}): {payload[:300]!r}")
        sides = {"cerbos": (base, load, {"cerbos": [process.pid]}),
                 "gqlgov": (gqlgov_base, load_check, roles)}
        for base_url, shape, _pids in sides.values():  # warm-up, untimed
            run_load(base_url, shape, concurrency=setup.concurrency, duration_s=1.0, workdir=workdir)
        results: dict[str, list[LoadResult]] = {name: [] for name in sides}
        cpu: dict[str, list[float]] = {name: [] for name in sides}
        for _round in range(max(MIN_ROUNDS, setup.rounds)):
            # A side's CPU is counted over both rounds of a pair: the drainer stores the records
            # of gqlgov's round while Cerbos is loaded, and neither side is charged for the other.
            before = {name: cpu_used(pids, load_generator=False) for name, (_b, _s, pids) in sides.items()}
            for name, (base_url, shape, _pids) in sides.items():
                results[name].append(run_load(base_url, shape, concurrency=setup.concurrency,
                                              duration_s=setup.round_s, workdir=workdir))
            for name, (_b, _s, pids) in sides.items():
                spent = sum((cpu_used(pids, load_generator=False) - before[name]).values())
                cpu[name].append(spent * 1e6 / max(1, results[name][-1].requests))
    return _cerbos_report(results, cpu), sum(result.ok for result in results["gqlgov"])


def _spread(values: list[float], digits: int = 1) -> dict[str, float]:
    return {"median": round(statistics.median(values), digits), "min": round(min(values), digits),
            "max": round(max(values), digits)}


def _cerbos_report(results: dict[str, list[LoadResult]], cpu: dict[str, list[float]]) -> dict[str, Any]:
    ratios = [ours / theirs for ours, theirs in zip(cpu["gqlgov"], cpu["cerbos"], strict=True) if theirs]
    rps = {name: [result.rps for result in rounds] for name, rounds in results.items()}
    cerbos, gqlgov = merged(results["cerbos"]), merged(results["gqlgov"])
    return {
        "peers.cerbos.rps": round(statistics.median(rps["cerbos"]), 1),
        "peers.cerbos.cpu_us": round(statistics.median(cpu["cerbos"]), 1),
        "peers.cerbos.p99_ms": cerbos.p99_ms,
        "peers.gqlgov_check.rps": round(statistics.median(rps["gqlgov"]), 1),
        "peers.gqlgov_check.cpu_us": round(statistics.median(cpu["gqlgov"]), 1),
        "peers.gqlgov_check.p99_ms": gqlgov.p99_ms,
        "peers.check_cpu_vs_cerbos": round(statistics.median(ratios), 3) if ratios else None,
        "peers.check_rps_vs_cerbos": round(statistics.median(rps["gqlgov"]) / statistics.median(rps["cerbos"]), 3),
        "peers.cerbos.rounds": len(cpu["cerbos"]),
        "peers.cerbos.spread": {
            "cerbos_rps": _spread(rps["cerbos"]), "gqlgov_rps": _spread(rps["gqlgov"]),
            "cerbos_cpu_us": _spread(cpu["cerbos"]), "gqlgov_cpu_us": _spread(cpu["gqlgov"]),
            "check_cpu_vs_cerbos": _spread(ratios, 3) if ratios else None,
        },
        "peers.cerbos.errors": cerbos.errors,
    }


# --- GraphQL Armor ---------------------------------------------------------------------------------

ARMOR_SCRIPT = PACKAGE / "armor.js"
# The limits the bench's policy sets (tests/support/seed.bench_policy_document), as Armor takes them.
ARMOR_LIMITS = {"depth": 12, "aliases": 100, "tokens": 20000, "cost": 1_000_000}


def armor_run(installed: Path, payload: dict[str, Any]) -> dict[str, Any]:
    """One run of tools/bench/peers/armor.js (a fresh Node process) on `payload`: its JSON answer."""
    node = shutil.which("node") or "node"
    result = subprocess.run([node, "--expose-gc", str(ARMOR_SCRIPT)], input=json.dumps(payload), text=True,
                            capture_output=True, timeout=600, check=False, cwd=installed,
                            env={"PATH": "/usr/bin:/bin", "NODE_PATH": str(installed / "node_modules")})
    if result.returncode != 0:
        raise PeersUnavailable(f"armor.js failed ({result.returncode}): {result.stderr.strip()[-300:]}")
    return json.loads(result.stdout)


def armor_numbers(installed: Path, *, sdl: str, documents: dict[str, str], ours_cold: Any, hostile_sdl: str,
                  hostile: list[tuple[str, str]], ours_hostile: Any, quick: bool) -> dict[str, Any]:
    """Armor's cold check and gqlgov's (`ours_cold()`: per document name, median µs in this process)
    in alternating rounds; then the hostile corpus once each (`ours_hostile()`: per case, slowest ms)."""
    rounds = 3 if quick else MIN_ROUNDS
    payload = {"sdl": sdl, "limits": ARMOR_LIMITS, "documents": documents, "hostile": {},
               "repeat": 20 if quick else 100, "min_time_ms": 200 if quick else 1000, "runs": 1}
    theirs: list[dict[str, float]] = []
    ours: list[dict[str, float]] = []
    allowed: dict[str, bool] = {}
    for _round in range(rounds):
        answer = armor_run(installed, payload)
        theirs.append(answer["cold_us"])
        allowed = answer["allowed"]
        ours.append(ours_cold())
    armor_cold = {name: statistics.median(run[name] for run in theirs) for name in documents}
    ours_median = {name: statistics.median(run[name] for run in ours) for name in documents}
    # Per round, both sides measured minutes apart at most: the ratio is read from the rounds.
    ratios = {name: [o[name] / t[name] for o, t in zip(ours, theirs, strict=True)] for name in documents}
    hostile_answer = armor_run(installed, {**payload, "sdl": hostile_sdl, "documents": {},
                                           "hostile": dict(hostile), "runs": 3})
    armor_hostile: dict[str, float] = hostile_answer["hostile_ms"]
    ours_hostile_ms: dict[str, float] = ours_hostile()
    armor_worst = max(armor_hostile, key=armor_hostile.__getitem__)
    ours_worst = max(ours_hostile_ms, key=ours_hostile_ms.__getitem__)
    return {
        "peers.armor.cold_us": {name: round(value, 1) for name, value in armor_cold.items()},
        "peers.armor.allowed": allowed,
        "peers.armor.gqlgov_cold_us": {name: round(value, 1) for name, value in ours_median.items()},
        "peers.cold_vs_armor": {name: round(statistics.median(ratios[name]), 3) for name in documents},
        "peers.cold_vs_armor_spread": {name: _spread(ratios[name], 3) for name in documents},
        "peers.armor.rounds": rounds,
        "peers.armor.hostile_max_ms": round(armor_hostile[armor_worst], 2),
        "peers.armor.hostile_slowest": armor_worst,
        "peers.armor.hostile_ms": {name: round(value, 2) for name, value in armor_hostile.items()},
        "peers.gqlgov.hostile_max_ms": round(ours_hostile_ms[ours_worst], 2),
        "peers.gqlgov.hostile_slowest": ours_worst,
        "peers.gqlgov.hostile_ms": {name: round(value, 2) for name, value in ours_hostile_ms.items()},
        "peers.hostile_vs_armor": round(ours_hostile_ms[ours_worst] / armor_hostile[armor_worst], 3),
        "peers.armor.versions": {"node": hostile_answer["node"], "graphql": hostile_answer["graphql"]},
    }


def unavailable(reason: str) -> dict[str, Any]:
    return {"peers.unavailable": reason}




# --- The bench's sections --------------------------------------------------------------------------

def cerbos_peer(installed: Path, *, bundle: Any, query: str, concurrency: int, duration_s: float) -> PeerRounds:
    """The HTTP run's peer: Cerbos loaded beside the production server's check of `query`."""
    from policies import engine
    from tests.support.seed import BENCH_AGENT, BENCH_GROUP
    from tools.bench.engine_bench import analysis_limits

    analysis = engine.analyze(bundle, query, limits=analysis_limits())
    rounds = max(MIN_ROUNDS, round(duration_s / 2))
    setup = CerbosSetup(installed=installed, operations=sorted(op for op in bundle.operations
                                                               if op.startswith("query.")),
                        root_fields=[field.operation for field in analysis.root_fields], agent=BENCH_AGENT,
                        group=BENCH_GROUP, concurrency=concurrency, round_s=max(1.0, duration_s / rounds),
                        rounds=rounds)

    def measure(base: str, load_check: Load, roles: dict[str, list[int]], workdir: Path) -> tuple[dict, int]:
        try:
            return cerbos_rounds(setup, base, load_check, roles, workdir)
        except (PeersUnavailable, RuntimeError, OSError) as error:
            return unavailable(f"cerbos: {error}"), 0

    return measure


def armor_section(installed: Path, bench: Any, *, sdl: str, quick: bool) -> dict[str, Any]:
    """GraphQL Armor against gqlgov's cold analysis (the bench's documents and schema) and on the
    hostile corpus (on the demo shop schema it is written for, for both)."""
    from policies.engine.hostile import hostile_corpus
    from tools.bench.engine_bench import EngineBench, schema_build_s

    shop_sdl = (servers.ROOT / "policies" / "demo" / "shop.graphql").read_text()
    shop = EngineBench(schema_build_s(shop_sdl)[1], {}, quick=quick)
    try:
        return armor_numbers(
            installed, sdl=sdl, documents={size: doc.query for size, doc in bench.documents.items()},
            ours_cold=bench.cold_us, hostile_sdl=shop_sdl,
            hostile=[(name, query) for name, query, _variables in hostile_corpus()],
            ours_hostile=lambda: shop.hostile_in_process(runs=3)["hostile.engine_ms"], quick=quick)
    except (PeersUnavailable, OSError, subprocess.TimeoutExpired, ValueError) as error:
        return unavailable(f"graphql-armor: {error}")
