"""What signing adds to an allowed check.

- `sign.decision_token_us`: the variables' digest and one token (claims, JSON, ES256 signature),
  in a tight loop with the key in memory, as a web process holds it.
- `sign.check_us`: a warm check with and without its signing steps, paired in alternating calls in
  one process (the WSGI application through django.test.Client, on the HTTP run's database and
  Redis): what signing costs inside a check, where colder caches make it dearer than in a loop.
  "Without" runs the pipeline with its bind and sign steps replaced by no-ops: an experiment's
  switch, kept here in the tooling; the product has none.
- `sign.check_overhead_ratio`: that difference against the CPU a warm check costs all processes
  over HTTP in the same run (http.cpu_us.check): the warm check's cost with signing over without.

`python -m tools.bench.sign_bench TOKEN SCHEMA QUERY_FILE [REPEAT]` prints `sign.check_us` (the HTTP
run starts it in the bench's environment, before its servers).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# Django-dependent modules are imported inside the functions: `python -m tools.bench.sign_bench`
# sets Django up first.
OPERATION = {"name": None, "type": "query", "root_fields": ["orders"]}


def sign_numbers(query: str, *, quick: bool) -> dict[str, Any]:
    """`sign.decision_token_us`: the variables' digest and one token (claims, JSON, ES256 signature)."""
    from cryptography.hazmat.primitives.asymmetric import ec

    from gqlgov_verify.binding import document_sha256, variables_sha256
    from policies.signing import jws, signer
    from tools.bench.engine_bench import median_us

    private_key = ec.generate_private_key(ec.SECP256R1())
    key = signer.ActiveKey("bench", jws.header_segment("bench"), jws.local_signer(private_key))
    document = document_sha256(query)  # the check computes it anyway, for its analysis cache
    issued_at = datetime.now(UTC)

    def one_token() -> str:
        binding = signer.Binding(document, variables_sha256({}), key)
        return signer.mint(binding, subject="bench-agent", iam_role_arn="arn:aws:iam::123456789012:role/bench",
                           decision_id="00000000-0000-4000-8000-000000000000", schema="bench", policy_version=1,
                           operation=OPERATION, issued_at=issued_at)

    return {"sign.decision_token_us": round(median_us(one_token, repeat=300 if quick else 3000, min_time_s=0.2), 1)}


def check_numbers(token: str, schema: str, query: str, repeat: int) -> dict[str, Any]:
    """`sign.check_us`: median µs of a warm check, signed and without the signing steps, their ratio,
    and how many checks were answered (each leaves a decision record)."""
    from django.test import Client

    from policies.checks import pipeline
    from tools.bench.engine_bench import paired_median_us

    client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {token}")
    body = json.dumps({"schema": schema, "query": query, "variables": {}})
    signed_steps = (pipeline._bind, pipeline._sign)
    unsigned_steps = (lambda request, decision: (decision, None), lambda *args: None)

    answered = 0

    def check(steps: tuple[Any, Any], signed: bool) -> None:
        nonlocal answered
        pipeline._bind, pipeline._sign = steps
        response = client.post("/api/v1/check", body, content_type="application/json")
        answered += 1
        if response.status_code != 200 or (b'"decision_token"' in response.content) != signed:
            raise RuntimeError(f"unexpected check answer {response.status_code}: {response.content[:300]!r}")

    try:
        signed_us, unsigned_us = paired_median_us(
            lambda: check(signed_steps, True), lambda: check(unsigned_steps, False), repeat=repeat
        )
    finally:
        pipeline._bind, pipeline._sign = signed_steps
    return {"sign.check_us": {"signed": round(signed_us, 1), "unsigned": round(unsigned_us, 1),
                              "ratio": round(signed_us / unsigned_us, 3), "checks": answered}}


def check_overhead_ratio(report: dict[str, Any]) -> float | None:
    """The warm HTTP check's CPU per request (all processes) over the same less what signing adds in a check."""
    paired = report.get("sign.check_us") or {}
    added_us = paired.get("signed", 0.0) - paired.get("unsigned", 0.0)
    check_us = sum((report.get("http.cpu_us") or {}).get("check", {}).values())
    if not check_us or added_us >= check_us:
        return None
    return round(check_us / (check_us - max(0.0, added_us)), 3)


def main(argv: list[str], numbers: Callable[[str, str, str, int], dict[str, Any]] | None = None) -> None:
    """`TOKEN SCHEMA QUERY_FILE [REPEAT]`: prints `numbers(...)` (check_numbers unless another
    in-process measurement, as tools/bench/mcp_bench.py's, is given) as JSON."""
    import django

    django.setup()
    token, schema, query_file = argv[:3]
    repeat = int(argv[3]) if len(argv) > 3 else 1500
    print(json.dumps((numbers or check_numbers)(token, schema, Path(query_file).read_text(), repeat)))


if __name__ == "__main__":
    import os

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gqlgov.settings")
    main(sys.argv[1:])
