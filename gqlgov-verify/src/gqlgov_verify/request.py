"""The part every HTTP guard shares: read the GraphQL POST body, find the token, verify the pair.

The body is parsed strictly (UTF-8 JSON object, no duplicate keys at any depth, `query` a string,
`variables` an object or null, `operationName` a string or null): the backend parses the same bytes
after us, and wherever two parsers could read one body differently, a token checked against one
reading could admit the other.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gqlgov_verify.config import Verifier
from gqlgov_verify.errors import (
    MALFORMED_REQUEST,
    PAYLOAD_TOO_LARGE,
    TOKEN_MALFORMED,
    DecisionRejected,
    RequestRefused,
)

HEADER = "X-Gqlgov-Decision"


@dataclass(frozen=True)
class GraphQLRequest:
    query: str
    variables: dict[str, Any] | None
    operation_name: str | None


def parse_body(body: bytes) -> GraphQLRequest:
    """The GraphQL request in a JSON POST body; `RequestRefused` (400) when it is not one."""
    try:
        document = json.loads(body.decode("utf-8"), object_pairs_hook=_unique_keys)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise _malformed("the body is not a UTF-8 JSON object") from None
    if not isinstance(document, dict):
        raise _malformed("the body must be one JSON object (batches are not admitted)")
    query, variables, name = document.get("query"), document.get("variables"), document.get("operationName")
    if not isinstance(query, str):
        raise _malformed("the body has no `query` string")
    if variables is not None and not isinstance(variables, dict):
        raise _malformed("`variables` must be a JSON object or null")
    if name is not None and not isinstance(name, str):
        raise _malformed("`operationName` must be a string or null")
    return GraphQLRequest(query, variables, name)


def check_request(
    verifier: Verifier, *, tokens: Sequence[str], body: bytes, caller: str | None, max_body_bytes: int
) -> dict[str, Any]:
    """The claims of the one token that admits this body for this caller, else `RequestRefused`."""
    if len(body) > max_body_bytes:
        raise too_large(max_body_bytes)
    distinct = {token.strip() for token in tokens}
    if len(distinct) != 1:
        problem = "is missing" if not distinct else "appears more than once with different values"
        raise RequestRefused(403, TOKEN_MALFORMED, f"the {HEADER} header {problem}")
    request = parse_body(body)
    try:
        return verifier.verify(
            distinct.pop(), query=request.query, variables=request.variables, agent=caller,
            operation_name=request.operation_name,
        )  # fmt: skip
    except DecisionRejected as rejection:
        raise RequestRefused.from_rejection(rejection) from None


def header_values(headers: Iterable[tuple[str, str]], name: str = HEADER) -> list[str]:
    """Every value of header `name` (case-insensitive) among (name, value) pairs."""
    wanted = name.lower()
    return [value for key, value in headers if isinstance(value, str) and key.lower() == wanted]


def event_tokens(event: Mapping[str, Any]) -> list[str]:
    """The token values of an API Gateway REST API event, from `headers` and `multiValueHeaders`."""
    tokens = header_values((event.get("headers") or {}).items())
    for key, values in (event.get("multiValueHeaders") or {}).items():
        if key.lower() == HEADER.lower() and isinstance(values, list):
            tokens.extend(value for value in values if isinstance(value, str))
    return tokens


def too_large(max_body_bytes: int) -> RequestRefused:
    return RequestRefused(413, PAYLOAD_TOO_LARGE, f"the body is larger than {max_body_bytes} bytes")


def _malformed(message: str) -> RequestRefused:
    return RequestRefused(400, MALFORMED_REQUEST, message)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        raise ValueError("duplicate key in a JSON object")
    return document
