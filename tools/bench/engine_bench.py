"""In-process measurements: cold analysis vs graphql-core, warm decisions, scale, schema build, own schema,
cost conformance.

Warm decisions go through `policies.checks.pipeline._analyse` (the check's own cache lookup) and `engine.decide`,
so the benchmark measures the code that serves checks, not a copy of it. They leave out the check's
decision cache, which would answer the same document and agent without the rules: these figures are
the cost of the rules themselves (a policy whose conditions take part in a check pays it every time).
"""

from __future__ import annotations

import dataclasses
import gc
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from graphql import is_required_argument, parse, validate

from policies import engine
from policies.checks import pipeline
from policies.checks.caches import ActivePolicy
from policies.engine.agent_view import shown_to_agent
from policies.engine.own_schema import introspection_of, own_schema
from tests.support.seed import BENCH_AGENT, BENCH_GROUP, bench_policy_document
from tools.bench.documents import BenchDocument


def analysis_limits() -> Any:
    """The limits a check analyses with (settings' document size and hard caps)."""
    return engine.AnalysisLimits(max_document_bytes=settings.GQLGOV_MAX_DOCUMENT_BYTES,
                                 caps=engine.Limits(**settings.GQLGOV_HARD_CAPS))


def paired_median_us(
    first: Callable[[], Any], second: Callable[[], Any], *, repeat: int, min_time_s: float = 0.0
) -> tuple[float, float]:
    """The median wall time in microseconds of one call of `first` and of `second`, measured in
    alternating order over the same rounds, so that load from other processes, CPU frequency
    and cache state weigh on both alike. Both are warmed up first, and run with the cyclic
    garbage collector paused (as `timeit` does), so a collection triggered by one side is not
    charged to whichever side happens to run when it fires."""
    for function in (first, second, first, second):
        function()
    samples: tuple[list[float], list[float]] = ([], [])
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        started = time.perf_counter()
        rounds = 0
        while rounds < repeat or time.perf_counter() - started < min_time_s:
            order = ((0, first), (1, second)) if rounds % 2 == 0 else ((1, second), (0, first))
            for index, function in order:
                begin = time.perf_counter_ns()
                function()
                samples[index].append((time.perf_counter_ns() - begin) / 1000)
            rounds += 1
            if rounds % 50 == 0:
                # Outside any timed call: frees the rounds' cyclic garbage (all of it young) without
                # walking the whole heap, which a 10,000-rule policy makes large.
                gc.collect(1)
            if rounds > 50 * repeat:
                break
    finally:
        if was_enabled:
            gc.enable()
    return statistics.median(samples[0]), statistics.median(samples[1])


def median_us(function: Callable[[], Any], *, repeat: int, min_time_s: float = 0.0) -> float:
    """The median wall time of one call in microseconds, over at least `repeat` calls (and `min_time_s`)."""
    samples: list[float] = []
    started = time.perf_counter()
    while len(samples) < repeat or time.perf_counter() - started < min_time_s:
        begin = time.perf_counter_ns()
        function()
        samples.append((time.perf_counter_ns() - begin) / 1000)
        if len(samples) > 50 * repeat:
            break
    return statistics.median(samples)


def filler_rules(count: int, operations: list[str], *, agents_per_rule: int = 1, offset: int = 0) -> list[dict]:
    """`count` rules for other agents, spread over the schema's operations (as a large organisation has)."""
    effects = ("allow", "deny", "require_approval")
    return [
        {
            "id": f"filler-{index}",
            "effect": effects[index % 3],
            "subjects": {"agents": [f"agent-{offset + index * agents_per_rule + k}" for k in range(agents_per_rule)]},
            "operations": [operations[index % len(operations)]],
            "limits": {"max_depth": 6 + index % 4},
        }
        for index in range(count)
    ]


@dataclass
class EngineBench:
    bundle: Any
    documents: dict[str, BenchDocument]
    quick: bool = False

    def __post_init__(self) -> None:
        self.now = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
        self.caps = engine.Limits(**settings.GQLGOV_HARD_CAPS)
        self.policy = engine.compile_policy(bench_policy_document("bench", rate_limits=True), schema=self.bundle)
        self.active = self._active(self.policy, version_id=-1)

    def _active(self, policy: Any, *, version_id: int) -> ActivePolicy:
        # A version id no database row has: the shared analysis cache never mixes bench entries with real ones.
        return ActivePolicy(schema_id=0, schema_name="bench", schema_version_id=version_id, schema_version=1,
                            policy_version_id=version_id, policy_version=1, bundle=self.bundle, policy=policy)

    def _subject(self, name: str = BENCH_AGENT) -> Any:
        return engine.Subject(name=name, kind="ai", groups=(BENCH_GROUP,), attributes={"team": "bench"})

    def _request(self) -> Any:
        return engine.RequestContext(ip="127.0.0.1", now=self.now)

    def cold_check(self, document: BenchDocument) -> Callable[[], None]:
        """Our full cold check of `document` (parse, validate, measure, rules), as one call."""
        limits = analysis_limits()

        def cold() -> None:
            analysis = engine.analyze(
                self.bundle, document.query, limits=limits,
                default_list_size=settings.GQLGOV_DEFAULT_LIST_SIZE,
                mutation_base_cost=settings.GQLGOV_MUTATION_BASE_COST,
            )
            engine.decide(self.policy, analysis, subject=self._subject(), request=self._request(), caps=self.caps)

        return cold

    def cold_and_baseline_us(self, document: BenchDocument) -> tuple[float, float]:
        """Our full cold check and graphql-core's parse+validate alone, on the same document,
        measured side by side (see paired_median_us)."""
        schema = self.bundle.schema

        def baseline() -> None:
            validate(schema, parse(document.query))

        return paired_median_us(self.cold_check(document), baseline, repeat=self._repeat(document),
                                min_time_s=0.4 if self.quick else 2.0)

    def cold_us(self) -> dict[str, float]:
        """Per document size, the median µs of our full cold check (no graphql-core baseline beside it)."""
        return {size: median_us(self.cold_check(document), repeat=self._repeat(document),
                                min_time_s=0.2 if self.quick else 1.0)
                for size, document in self.documents.items()}

    def warm_decision(self, document: BenchDocument, active: ActivePolicy | None = None,
                      subjects: list[Any] | None = None) -> Callable[[], None]:
        """One warm decision as a check makes it (the analysis from the check's cache, the rules
        evaluated), for the next of `subjects` at each call; the cache is filled before it returns."""
        active = active or self.active
        request = pipeline.CheckRequest(query=document.query, schema="bench")
        subjects = subjects or [self._subject()]
        cursor = iter(range(1 << 62))

        def run() -> None:
            analysis, _key = pipeline._analyse(active, request)
            subject = subjects[next(cursor) % len(subjects)]
            engine.decide(active.policy, analysis, subject=subject, request=self._request(), caps=self.caps)

        run()
        return run

    def _warm_calls(self, full: int) -> int:
        return full // 4 if self.quick else full

    def _repeat(self, document: BenchDocument) -> int:
        base = {"small": 300, "medium": 100, "large": 30}[document.size]
        return max(5, base // 5) if self.quick else base

    def engine_numbers(self) -> dict[str, Any]:
        gc.collect()
        cold, baseline, ratio, warm = {}, {}, {}, {}
        for size, document in self.documents.items():
            cold[size], baseline[size] = self.cold_and_baseline_us(document)
            ratio[size] = round(cold[size] / baseline[size], 3)
            warm[size] = median_us(self.warm_decision(document), repeat=self._warm_calls(2000))
        medium = "medium"
        return {
            "engine.cold_ratio": ratio,
            "engine.cold_us": {size: round(value, 1) for size, value in cold.items()},
            "engine.baseline_parse_validate_us": {size: round(value, 1) for size, value in baseline.items()},
            "engine.warm_us": round(warm[medium], 2),
            "engine.warm_us_by_size": {size: round(value, 2) for size, value in warm.items()},
            "engine.warm_vs_cold": round(warm[medium] / cold[medium], 4),
            "engine.document_tokens": {size: _tokens(self.bundle, doc.query) for size, doc in self.documents.items()},
        }

    def own_schema_numbers(self, runs: int = 5) -> dict[str, Any]:
        """The cold build of the bench agent's own schema (GET /schemas/{name}/sdl before its cache
        holds it): a freshly compiled policy and a bundle without memoised field data each run."""
        document = bench_policy_document("bench", rate_limits=True)
        times, sdl = [], ""
        for _run in range(max(2, runs // 2) if self.quick else runs):
            bundle = dataclasses.replace(self.bundle, _field_infos={})
            policy = engine.compile_policy(document, schema=bundle)
            begin = time.perf_counter()
            sdl = own_schema(bundle, policy, self._subject(), title="bench").sdl or ""
            times.append((time.perf_counter() - begin) * 1000)
        begin = time.perf_counter()
        introspection_of(sdl)
        introspection_ms = (time.perf_counter() - begin) * 1000
        return {
            "own_schema.build_ms": round(statistics.median(times), 1),
            "own_schema.introspection_ms": round(introspection_ms, 1),
            "own_schema.sdl_bytes": len(sdl.encode()),
            **self.hidden_denial_numbers(policy),
        }

    def hidden_denial_numbers(self, policy: Any) -> dict[str, Any]:
        """What telling an agent a denial as its own schema would (engine.agent_view) costs: building
        its own schema as a schema (once per policy version and agent name, kind and groups, on the
        first denial that needs it), then per denial of a root field outside its own schema (a
        mutation: the bench rule admits queries only), against deciding that denial."""
        mutation = self.bundle.schema.mutation_type
        if mutation is None:
            return {}
        name, field = next(iter(mutation.fields.items()))
        arguments = ", ".join(f'{arg}: "1"' for arg, value in field.args.items() if is_required_argument(value))
        query = f"mutation {{ {name}{f'({arguments})' if arguments else ''} {{ __typename }} }}"
        subject, request = self._subject(), self._request()
        visibility = own_schema(self.bundle, policy, subject).visibility
        begin = time.perf_counter()
        built = visibility.build_bundle()
        bundle_ms = (time.perf_counter() - begin) * 1000
        analysis = engine.analyze(self.bundle, query)

        def decide(one: Any) -> Any:
            return engine.decide(policy, one, subject=subject, request=request, caps=self.caps)

        decision = decide(analysis)
        decide_us = round(median_us(lambda: decide(analysis), repeat=50 if self.quick else 300), 1)
        shown_us = round(median_us(lambda: shown_to_agent(decision, analysis, visibility, decide, lambda: built),
                                     repeat=50 if self.quick else 300), 1)
        return {
            "own_schema.view_bundle_ms": round(bundle_ms, 1),
            "own_schema.hidden_denial_decide_us": decide_us,
            "own_schema.hidden_denial_shown_us": shown_us,
        }

    def scale_numbers(self, small: int = 10, large: int = 10_000) -> dict[str, Any]:
        """Warm decision time with `large` rules / agents divided by with `small`, same document."""
        operations = [op for op in self.bundle.operations if op.startswith("query.")] or ["query.none"]
        document = self.documents["medium"]

        def rules_policy(count: int, version_id: int) -> ActivePolicy:
            policy = engine.compile_policy(
                bench_policy_document("bench", rate_limits=True, extra_rules=filler_rules(count, operations)),
                schema=self.bundle,
            )
            return self._active(policy, version_id=version_id)

        def agents_case(count: int, version_id: int) -> tuple[ActivePolicy, list[Any]]:
            # `count` agents named in 10 rules' subjects; each decision is for the next agent.
            per_rule = max(1, count // 10)
            names = [f"agent-{index}" for index in range(per_rule * 10)]
            rules = filler_rules(10, operations, agents_per_rule=per_rule)
            for rule in rules:
                rule["effect"] = "allow"
                rule["operations"] = ["query.*"]
            policy = engine.compile_policy(bench_policy_document("bench", rate_limits=True, extra_rules=rules),
                                           schema=self.bundle)
            subjects = [engine.Subject(name=name, kind="ai", groups=(BENCH_GROUP,)) for name in names]
            return self._active(policy, version_id=version_id), subjects

        # Each pair in alternating rounds (as cold against graphql-core): measured one after the
        # other, a drift in the machine's speed between the two moved a ratio by up to 0.5.
        repeat = self._warm_calls(3000)
        few_rules, many_rules = paired_median_us(self.warm_decision(document, rules_policy(small, -2)),
                                                 self.warm_decision(document, rules_policy(large, -3)), repeat=repeat)
        few_active, few_subjects = agents_case(small, -4)
        many_active, many_subjects = agents_case(large, -5)
        # A full run decides for each of the many agents at least once; a quick one only smoke-tests.
        few_agents, many_agents = paired_median_us(self.warm_decision(document, few_active, few_subjects),
                                                   self.warm_decision(document, many_active, many_subjects),
                                                   repeat=repeat if self.quick else max(repeat, large))
        return {
            "scale.rules_ratio": round(many_rules / few_rules, 3),
            "scale.agents_ratio": round(many_agents / few_agents, 3),
            "scale.warm_us": {f"rules_{small}": round(few_rules, 2), f"rules_{large}": round(many_rules, 2),
                              f"agents_{small}": round(few_agents, 2), f"agents_{large}": round(many_agents, 2)},
        }

    def hostile_in_process(self, runs: int = 3) -> dict[str, Any]:
        """Engine-only time per hostile case, the slowest of `runs` after one warm-up (the HTTP
        figure, with 5xx counting, comes from http_bench)."""
        from policies.engine.hostile import hostile_corpus

        times: dict[str, float] = {}
        errors: list[str] = []
        for name, query, variables in hostile_corpus():
            slowest = 0.0
            for run in range(runs + 1):
                # Each run starts from a collected heap, so the garbage earlier cases left (graphql-core's
                # tokens form reference cycles) is not collected on this case's clock; collections its
                # own garbage triggers still are.
                gc.collect()
                begin = time.perf_counter()
                try:
                    analysis = engine.analyze(self.bundle, query, variables=variables, limits=analysis_limits())
                    engine.decide(self.policy, analysis, subject=self._subject(), request=self._request(),
                                  caps=self.caps)
                except Exception as error:  # counted, never raised: the report names it
                    errors.append(f"{name}: {type(error).__name__}")
                    break
                if run:  # the first run warms per-schema caches, as a running server has them
                    slowest = max(slowest, time.perf_counter() - begin)
            times[name] = round(slowest * 1000, 2)
        slowest_case = max(times, key=times.__getitem__)
        return {"hostile.engine_max_ms": times[slowest_case], "hostile.engine_slowest": slowest_case,
                "hostile.engine_ms": times, "hostile.engine_exceptions": errors}


    def hostile_cel_in_process(self, runs: int = 3) -> dict[str, Any]:
        """Decision time per worst-case rule condition (policies/engine/hostile.py), the slowest of `runs`."""
        from policies.engine.hostile import hostile_cel_cases

        analysis = engine.analyze(self.bundle, self.documents["medium"].query, limits=analysis_limits())
        times: dict[str, float] = {}
        for name, expression, context in hostile_cel_cases():
            rule = {"id": "cel", "effect": "allow", "subjects": {"kinds": ["ai"]}, "operations": ["*"],
                    "when": {"expression": expression}}
            document = {**bench_policy_document("bench", rate_limits=False), "rules": [rule]}
            policy = engine.compile_policy(document, schema=self.bundle)
            request = engine.RequestContext(ip="127.0.0.1", now=self.now, context=context)
            slowest = 0.0
            for run in range(runs + 1):
                begin = time.perf_counter()
                engine.decide(policy, analysis, subject=self._subject(), request=request, caps=self.caps)
                if run:
                    slowest = max(slowest, time.perf_counter() - begin)
            times[name] = round(slowest * 1000, 2)
        slowest_case = max(times, key=times.__getitem__)
        return {"hostile.cel_max_ms": times[slowest_case], "hostile.cel_slowest": slowest_case,
                "hostile.cel_ms": times}


def _tokens(bundle: Any, query: str) -> int:
    analysis = engine.analyze(bundle, query, limits=analysis_limits())
    return analysis.metrics.tokens if analysis.metrics else -1


def schema_build_s(sdl: str) -> tuple[float, Any]:
    """The build time of `sdl`'s bundle, and the bundle, frozen out of the garbage collector's
    generations the way `policies.checks.caches.schema_bundle` freezes it in a serving process
    (otherwise every full collection walks ~10^6 schema objects: pauses of 0.2-1.2 s that land
    on whichever case is being timed)."""
    begin = time.perf_counter()
    bundle = engine.build_schema(sdl)
    elapsed = round(time.perf_counter() - begin, 3)
    gc.collect()
    gc.freeze()
    return elapsed, bundle


def cost_conformance(directory: Path) -> dict[str, Any]:
    """Our static cost on Apollo's demand-control cases: passed / total and every difference."""
    data = json.loads((directory / "cases.json").read_text())
    bundles: dict[str, Any] = {}
    failures = []
    cases = data["cases"]
    permissive = engine.AnalysisLimits(max_document_bytes=1 << 22, caps=engine.Limits(
        max_depth=10_000, max_aliases=100_000, max_root_fields=100_000, max_tokens=1_000_000,
        max_directives=100_000, max_cost=10**15))
    for case in cases:
        file = case["schema_file"]
        try:
            if file not in bundles:
                bundles[file] = engine.build_schema((directory / file).read_text())
            analysis = engine.analyze(
                bundles[file], case["query"], variables=case.get("variables") or {},
                operation_name=case.get("operation_name"), limits=permissive,
                default_list_size=case["default_list_size"], mutation_base_cost=10,
            )
            ours = analysis.metrics.cost if analysis.metrics else None
            problem = "; ".join(reason.message for reason in analysis.failure)
        except Exception as error:
            ours, problem = None, f"{type(error).__name__}: {error}"
        expected = case["expected_cost"]
        if ours is None or abs(ours - expected) > 1e-6:
            failures.append({"id": case["id"], "expected": expected, "ours": ours,
                             "features": case.get("features", []), **({"problem": problem[:200]} if problem else {})})
    return {"cost.conformance_passed": len(cases) - len(failures), "cost.conformance_total": len(cases),
            "cost.conformance_differences": failures}
