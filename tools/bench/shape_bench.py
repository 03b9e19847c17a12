"""The shape cache (policies/engine/shapes.py) on what agents send: the bench's documents again with
fresh literal values (another id, another `first:`), against a cold analysis of the same documents.

engine.shape_hit_us / engine.shape_vs_cold: a check's analysis and decision when the document's shape
is cached, each call with new ids and a new page size (so the cost is measured again every time),
beside the cold analysis and decision of such documents, in alternating rounds (paired_median_us).
engine.shape_hit_ids_only_us: only the ids change (the cost comes from the shape's memo).
engine.shape_hit_share: a generated agent workload (40 shapes, 2,000 checks with fresh literals, one in
fifty with a page size over the Int range, which only a full analysis may refuse) served from shapes.
engine.shape_bytes: what a shape is charged in the cache, per document size, beside tracemalloc's
measure of what it holds.
"""

from __future__ import annotations

import itertools
import random
import tracemalloc
from collections.abc import Callable
from typing import Any

from django.conf import settings

from policies import engine
from policies.engine.shapes import HIT, Shape, analyze_shaped, lift
from tools.bench.documents import BenchDocument, documents_for
from tools.bench.engine_bench import EngineBench, analysis_limits, paired_median_us


class _Store(dict[Any, Any]):
    def put(self, key: Any, value: Any) -> None:
        self[key] = value


def with_literals(query: str, literal: Callable[[int, str, str], str]) -> str:
    """`query` with its literals replaced: `literal(index among those of its kind, kind, text)` gives each."""
    lifted = lift(query)
    assert lifted is not None
    parts, position, seen = [], 0, {"I": 0, "F": 0, "S": 0, "B": 0}
    for (start, end), kind in zip(lifted.spans, lifted.kinds, strict=True):
        parts.append(query[position:start])
        parts.append(literal(seen[kind], kind, query[start:end]))
        seen[kind] += 1
        position = end
    parts.append(query[position:])
    return "".join(parts)


# What an agent changes between two checks of one shape (PAGES: which page sizes).
FIRST_PAGE, EVERY_PAGE, NO_PAGE = "first", "every", "none"


class ShapeBench:
    def __init__(self, bench: EngineBench) -> None:
        self.bench = bench
        self.limits = analysis_limits()
        self.counter = itertools.count()

    def _options(self) -> dict[str, Any]:
        return {"limits": self.limits, "default_list_size": settings.GQLGOV_DEFAULT_LIST_SIZE,
                "mutation_base_cost": settings.GQLGOV_MUTATION_BASE_COST}

    def _variant(self, document: BenchDocument, *, pages: str) -> str:
        """The document with fresh ids and, per `pages`, a page size not seen in the last 96 calls in
        the first number literal (FIRST_PAGE), in every one (EVERY_PAGE) or in none (NO_PAGE)."""
        tick = next(self.counter)

        def literal(index: int, kind: str, text: str) -> str:
            if kind == "S":
                return f'"id-{tick}"'
            if kind == "I" and (pages == EVERY_PAGE or (pages == FIRST_PAGE and index == 0)):
                return str(1 + tick % 97)
            return text

        return with_literals(document.query, literal)

    def _decide(self, analysis: Any) -> None:
        bench = self.bench
        engine.decide(bench.policy, analysis, subject=bench._subject(), request=bench._request(), caps=bench.caps)

    def hit_and_cold_us(self, document: BenchDocument, *, pages: str) -> tuple[float, float] | None:
        """None when the document leaves no shape (its analysis fails: a small schema's large document
        can exceed the server's caps)."""
        store = _Store()
        analyze_shaped(store, "bench", self.bench.bundle, document.query, **self._options())
        if not any(isinstance(value, Shape) for value in store.values()):
            return None

        def hit() -> None:
            analysis, how = analyze_shaped(store, "bench", self.bench.bundle,
                                           self._variant(document, pages=pages), **self._options())
            assert how == HIT, how
            self._decide(analysis)

        def cold() -> None:
            self._decide(engine.analyze(self.bench.bundle, self._variant(document, pages=pages),
                                        **self._options()))

        quick = self.bench.quick
        return paired_median_us(hit, cold, repeat=self.bench._repeat(document), min_time_s=0.4 if quick else 2.0)

    def hit_share(self, shapes: int = 40, checks: int = 2000) -> float:
        """The share of an agent-like workload served from shapes (a fresh cache, shapes drawn
        with a skew: a few are most of the traffic, as an agent's favourite queries are)."""
        rng = random.Random(5)
        documents = [documents_for(self.bench.bundle.schema, seed=seed)[rng.choice(["small", "medium"])]
                     for seed in range(100, 100 + shapes)]
        store = _Store()
        served = 0
        for tick in range(checks // 4 if self.bench.quick else checks):
            document = documents[min(int(rng.paretovariate(1.2)) - 1, shapes - 1)]
            page = 2**40 if rng.random() < 0.02 else rng.randrange(1, 101)
            query = with_literals(document.query, lambda index, kind, text, page=page, tick=tick: (
                f'"agent-{tick}"' if kind == "S" else str(page) if kind == "I" and index == 0 else text))
            _analysis, how = analyze_shaped(store, "bench", self.bench.bundle, query, **self._options())
            served += how == HIT
        return round(served / (checks // 4 if self.bench.quick else checks), 4)

    def shape_bytes(self) -> dict[str, dict[str, int]]:
        """Per size: the bytes a shape is charged in the cache and tracemalloc's count of what building
        it allocated and kept (its tree and analysis)."""
        sizes = {}
        for size, document in self.bench.documents.items():
            store = _Store()
            tracemalloc.start()
            analyze_shaped(store, "bench", self.bench.bundle, document.query, **self._options())
            held, _peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            shapes = [value for value in store.values() if isinstance(value, Shape)]
            if shapes:
                sizes[size] = {"charged": shapes[0].approx_size_bytes, "measured": held}
        return sizes

    def numbers(self) -> dict[str, Any]:
        hit, cold, every, ids_only = {}, {}, {}, {}
        for size, document in self.bench.documents.items():
            first = self.hit_and_cold_us(document, pages=FIRST_PAGE)
            if first is None:
                continue
            hit[size], cold[size] = first
            every[size] = (self.hit_and_cold_us(document, pages=EVERY_PAGE) or (0.0, 0.0))[0]
            ids_only[size] = (self.hit_and_cold_us(document, pages=NO_PAGE) or (0.0, 0.0))[0]
        return {
            "engine.shape_hit_us": {size: round(value, 1) for size, value in hit.items()},
            "engine.shape_cold_us": {size: round(value, 1) for size, value in cold.items()},
            "engine.shape_vs_cold": {size: round(hit[size] / cold[size], 4) for size in hit},
            "engine.shape_hit_ids_only_us": {size: round(value, 1) for size, value in ids_only.items()},
            "engine.shape_hit_every_page_us": {size: round(value, 1) for size, value in every.items()},
            "engine.shape_every_page_vs_cold": {size: round(every[size] / cold[size], 4) for size in every},
            "engine.shape_hit_share": self.hit_share(),
            "engine.shape_bytes": self.shape_bytes(),
        }
