"""What a decision token is bound to: the document exactly as sent and its variables.

gqlgov signs these digests and the verifier recomputes them, from this one module, so the two
sides cannot disagree on how a document or its variables are hashed.
"""

from __future__ import annotations

import hashlib
from typing import Any

import rfc8785


def document_sha256(query: str) -> str:
    """SHA-256 hex of the `query` string exactly as sent (UTF-8; no normalisation of any kind)."""
    return hashlib.sha256(query.encode("utf-8", "surrogatepass")).hexdigest()


def variables_sha256(variables: dict[str, Any] | None) -> str:
    """SHA-256 hex of the RFC 8785 (JCS) canonical JSON of the variables; absent variables are `{}`."""
    return hashlib.sha256(rfc8785.dumps(variables if variables is not None else {})).hexdigest()
