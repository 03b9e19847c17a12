"""How well denials explain themselves: the share of deny reasons with a hint, and of fixable denials
whose suggested query passes when checked again, over the engine's fixtures and the bench's documents
(the corpus of tests/support/hint_corpus.py, which the engine tests hold to the same bar).
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from policies.engine import DEFAULT_CAPS, analyze, decide
from tests.support.hint_corpus import REQUEST, SUBJECT, HintCase, cases_for, limiter_reasons, shop_cases
from tools.bench.documents import BenchDocument

_SHOWN = 10  # case names listed per kind of miss


def hint_numbers(bundle: Any, documents: dict[str, BenchDocument], *, quick: bool = False) -> dict[str, Any]:
    """The `hints.*` keys (docs/benchmarks.md)."""
    sizes = [size for size in documents if not (quick and size == "large")]
    cases = shop_cases() + [
        case for size in sizes for case in cases_for(bundle, "bench", size, documents[size].query, None)
    ]
    reasons = list(limiter_reasons())
    fixable = passing = 0
    misses: list[str] = []
    failing_offers: list[str] = []
    for case in cases:
        decision = case.decide()
        reasons.extend(decision.reasons)
        suggestion = next((hint for hint in decision.hints if hint["kind"] == "suggested_query"), None)
        passes = suggestion is not None and (
            case.decide(suggestion["query"], suggestion["variables"]).decision == "allow"
        )
        if suggestion is not None and not passes:
            failing_offers.append(case.name)
        if case.fixable:
            fixable += 1
            passing += passes
            if not passes:
                misses.append(case.name)
    with_hint = sum(1 for reason in reasons if reason.hint)
    return {
        "hints.reasons_with_hint_share": round(with_hint / len(reasons), 4),
        "hints.suggested_query_pass_share": round(passing / fixable, 4) if fixable else None,
        "hints.cases": len(cases),
        "hints.reasons": len(reasons),
        "hints.fixable_denials": fixable,
        "hints.misses": misses[:_SHOWN],
        "hints.failing_suggestions": failing_offers[:_SHOWN],
        "hints.decide_deny_ms": _deny_decision_ms(cases, sizes, repeat=3 if quick else 10),
    }


def _deny_decision_ms(cases: list[HintCase], sizes: list[str], *, repeat: int) -> dict[str, float]:
    """Per bench document size: the median time of deciding (the analysis done) a denial with several
    problems, whose explanation rewrites the document and checks the rewrite again."""
    times = {}
    for size in sizes:
        case = next((case for case in cases if case.name == f"{size}/several_problems"), None)
        if case is None:
            continue
        analysis = analyze(case.bundle, case.query, variables=case.variables, limits=case.limits)
        samples = []
        for _ in range(repeat):
            begin = time.perf_counter()
            decide(case.policy, analysis, subject=SUBJECT, request=REQUEST, caps=DEFAULT_CAPS)
            samples.append((time.perf_counter() - begin) * 1000)
        times[size] = round(statistics.median(samples), 2)
    return times
