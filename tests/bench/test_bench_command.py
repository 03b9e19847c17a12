"""`manage.py bench`: one JSON object with every key issue 7 names, measured in one run."""

import json
from io import StringIO
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command

from tests.support.servers import server_command
from tools.bench.http_bench import PRODUCTION_SERVER

ROOT = Path(__file__).resolve().parents[2]
ENGINE_KEYS = {"engine.cold_ratio", "engine.warm_us", "engine.warm_vs_cold", "scale.rules_ratio",
               "scale.agents_ratio", "schema.build_s", "hostile.engine_max_ms", "hostile.cel_max_ms",
               "hints.reasons_with_hint_share", "hints.suggested_query_pass_share",
               "sign.decision_token_us", "own_schema.build_ms", "own_schema.introspection_ms",
               "replay.checks_per_s", "replay.records",
               "engine.shape_hit_us", "engine.shape_vs_cold", "engine.shape_hit_share"}
HTTP_KEYS = {"http.bare_rps", "http.check_warm_rps", "http.ratio_warm", "http.bare_p50_ms", "http.bare_p99_ms",
             "http.check_warm_p50_ms", "http.check_warm_p99_ms", "memory.rss_mb", "hostile.max_ms",
             "hostile.errors_5xx", "limiter.check_rps_on", "limiter.check_rps_off", "records.lost",
             "sign.check_us", "sign.check_overhead_ratio", "mcp.in_process_us", "mcp.cpu_us", "mcp.rps",
             "mcp.check_overhead_ratio"}


def run_bench(*args: str) -> dict:
    out = StringIO()
    call_command("bench", "--json", "--quick", "--types", "80", *args, stdout=out)
    return json.loads(out.getvalue())


@pytest.mark.slow
def test_in_process_numbers_and_cost_conformance(tmp_path):
    (tmp_path / "schema.graphql").write_text(
        "directive @listSize(assumedSize: Int, slicingArguments: [String!], sizedFields: [String!]) on FIELD_DEFINITION\n"
        "type Query { items(first: Int = 10): [Item!]! @listSize(slicingArguments: [\"first\"]) }\n"
        "type Item { id: ID! child: Item }\n"
    )
    cases = [
        {"id": "sized", "schema_file": "schema.graphql", "query": "{ items(first: 3) { child { id } } }",
         "variables": {}, "default_list_size": 100, "expected_cost": 6.0},
        {"id": "wrong-on-purpose", "schema_file": "schema.graphql", "query": "{ items { id } }",
         "variables": {}, "default_list_size": 100, "expected_cost": 1.0},
    ]
    (tmp_path / "cases.json").write_text(json.dumps({"cases": cases}))
    report = run_bench("--skip-http", "--cost-conformance", str(tmp_path), "-o", str(tmp_path / "out.json"))
    assert ENGINE_KEYS <= set(report)
    assert set(report["engine.cold_ratio"]) == {"small", "medium", "large"}
    # 80 types: the large document exceeds the server's caps, so it leaves no shape to measure.
    assert {"small", "medium"} <= set(report["engine.shape_vs_cold"]) <= {"small", "medium", "large"}
    assert report["cost.conformance_total"] == 2
    assert report["cost.conformance_passed"] == 1
    assert [d["id"] for d in report["cost.conformance_differences"]] == ["wrong-on-purpose"]
    assert json.loads((tmp_path / "out.json").read_text()) == report
    assert report["hostile.engine_exceptions"] == []
    assert (report["hints.misses"], report["hints.failing_suggestions"]) == ([], [])
    assert report["replay.records"] == 10_000 and report["replay.unchanged_share"] == 1.0


def test_the_bench_measures_the_server_docker_compose_runs():
    web = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["web"]
    command = " ".join(web["command"])
    # What the bench starts for its production server, after `python -m`, paths relative to the repository.
    started = [
        Path(argument).relative_to(ROOT).as_posix() if argument.startswith(str(ROOT)) else argument
        for argument in server_command(PRODUCTION_SERVER, port=0, workers=1)[2:]
    ]
    assert " ".join(started) in command


@pytest.mark.slow
def test_http_numbers_from_the_production_server(db):
    report = run_bench()
    assert HTTP_KEYS <= set(report)
    assert report["http.errors"] == 0
    assert report["hostile.errors_5xx"] == 0
    assert report["records.lost"] == 0
    assert report["http.bare_rps"] > 0 and report["http.check_warm_rps"] > 0
    assert report["sign.check_overhead_ratio"] > 1  # the bench's check is an allow: it is signed
    assert report["mcp.errors"] == 0  # every MCP check_graphql answered an allow, as POST /check did
    assert set(report["mcp.cpu_us"]["mcp"]) == {"server", "load_generator", "redis", "drainer"}


@pytest.mark.slow
def test_http_cpu_per_request_by_process_shows_where_a_check_costs_more_than_the_bare_endpoint(db):
    report = run_bench("--no-candidates", "--only", "http")
    bare, check = report["http.cpu_us"]["bare"], report["http.cpu_us"]["check"]
    # The health check never touches Redis or the drainer; the check's record goes through both.
    assert set(bare) == {"server", "load_generator"}
    assert set(check) == {"server", "load_generator", "redis", "drainer"}
    assert all(value > 0 for value in [*bare.values(), *check.values()])
    assert check["server"] > bare["server"]
    assert report["http.cpu_ratio_warm"] == round(sum(bare.values()) / sum(check.values()), 3)


@pytest.mark.slow
def test_without_npm_the_peers_section_says_why_and_the_rest_of_the_bench_runs(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")  # neither node nor npm can be found
    report = run_bench("--skip-http", "--peers")
    assert "node and npm" in report["peers.unavailable"]
    assert ENGINE_KEYS <= set(report)
    assert not any(key.startswith("peers.") and key != "peers.unavailable" for key in report)


@pytest.mark.slow
def test_peers_are_measured_beside_gqlgov_in_alternating_rounds(db):
    # 300 types: on the 80-type schema the generated large document has a fragment cycle (for every validator).
    report = run_bench("--peers", "--no-candidates", "--types", "300")
    if "peers.unavailable" in report and "npm ci failed" in report["peers.unavailable"]:
        pytest.skip(f"the npm registry is not reachable: {report['peers.unavailable']}")
    assert "peers.unavailable" not in report
    # Cerbos allowed the bench agent's check (the bench refuses to measure it otherwise), over >= 5 rounds.
    assert report["peers.cerbos.rounds"] >= 5 and report["peers.cerbos.errors"] == 0
    assert report["peers.cerbos.rps"] > 0 and report["peers.cerbos.cpu_us"] > 0
    spread = report["peers.cerbos.spread"]["check_cpu_vs_cerbos"]
    assert spread["min"] <= report["peers.check_cpu_vs_cerbos"] <= spread["max"]
    assert "peers.check_cpu_vs_cerbos" in report["targets_met"]
    # Armor admitted the three bench documents, so its whole validation ran on each of them.
    assert report["peers.armor.allowed"] == {"small": True, "medium": True, "large": True}
    assert set(report["peers.cold_vs_armor"]) == {"small", "medium", "large"}
    assert report["peers.hostile_vs_armor"] > 0
    assert report["records.lost"] == 0
