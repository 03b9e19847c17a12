"""What signing adds to an allowed check: binding its variables and minting its decision token.

Measured in-process with a key held in memory, as a web process holds the active key (no database:
the key's lookup is a cache hit on the hot path). `sign.check_overhead_ratio` puts it against the
CPU a warm check costs over HTTP in the same run.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from gqlgov_verify.binding import document_sha256, variables_sha256
from policies.signing import jws, signer
from tools.bench.engine_bench import median_us

OPERATION = {"name": None, "type": "query", "root_fields": ["orders"]}


def sign_numbers(query: str, *, quick: bool) -> dict[str, Any]:
    """`sign.decision_token_us`: the variables' digest and one token (claims, JSON, ES256 signature)."""
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


def check_overhead_ratio(report: dict[str, Any]) -> float | None:
    """A warm check's CPU (all processes, http.cpu_us) with signing over the same without it."""
    token_us = report.get("sign.decision_token_us")
    check_us = sum((report.get("http.cpu_us") or {}).get("check", {}).values())
    if not token_us or check_us <= token_us:
        return None
    return round(check_us / (check_us - token_us), 3)
