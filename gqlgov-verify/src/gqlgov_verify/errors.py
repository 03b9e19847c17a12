"""Why a decision token was refused: one exception, one code per reason, and the answer's body.

The codes are a public contract (backends log them, gateway responses show them): add, never rename.
"""

from __future__ import annotations

import json

TOKEN_MALFORMED = "TOKEN_MALFORMED"  # missing, oversized, not a compact JWS, or claims of the wrong shape
KEY_UNKNOWN = "KEY_UNKNOWN"  # no published key has the token's `kid` (or the JWKS was never reachable)
SIGNATURE_INVALID = "SIGNATURE_INVALID"  # the signature does not verify, or the algorithm is not ES256
TOKEN_EXPIRED = "TOKEN_EXPIRED"  # past `exp`, or `iat` in the future (beyond the clock-skew leeway)
ISSUER_MISMATCH = "ISSUER_MISMATCH"  # `iss` is not the gqlgov this verifier trusts
AGENT_MISMATCH = "AGENT_MISMATCH"  # the caller is not the agent the decision was made for
DOCUMENT_MISMATCH = "DOCUMENT_MISMATCH"  # the document is not the one gqlgov checked
VARIABLES_MISMATCH = "VARIABLES_MISMATCH"  # the variables are not the ones gqlgov checked
OPERATION_MISMATCH = "OPERATION_MISMATCH"  # another operation type, operation name or route than decided
TOKEN_REPLAYED = "TOKEN_REPLAYED"  # single use is on and this `jti` was already used

CODES = (
    TOKEN_MALFORMED,
    KEY_UNKNOWN,
    SIGNATURE_INVALID,
    TOKEN_EXPIRED,
    ISSUER_MISMATCH,
    AGENT_MISMATCH,
    DOCUMENT_MISMATCH,
    VARIABLES_MISMATCH,
    OPERATION_MISMATCH,
    TOKEN_REPLAYED,
)

# Refusals of the HTTP request itself (not of its token), with gqlgov's own codes for the same cases.
MALFORMED_REQUEST = "MALFORMED_REQUEST"
PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"


class DecisionRejected(Exception):
    """A decision token that does not admit this request; `code` is one of `CODES`."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class RequestRefused(Exception):
    """An HTTP answer a guard gives instead of calling the backend: status, code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message

    @classmethod
    def from_rejection(cls, rejection: DecisionRejected) -> RequestRefused:
        return cls(403, rejection.code, rejection.message)

    def body(self) -> bytes:
        """gqlgov's one error shape: `{"error": {"code", "message"}}`, as UTF-8 JSON."""
        return json.dumps({"error": {"code": self.code, "message": self.message}}).encode()
