"""The one reading of a JSON request body: UTF-8, strict JSON (no NaN or Infinity), an object
nested at most MAX_NESTING levels deep."""

import json

from django.http import HttpRequest

from gqlgov.errors import ApiError


def _refuse_non_standard_number(token: str):
    # NaN and Infinity are not JSON; PostgreSQL's jsonb and SQLite's JSON refuse to store them.
    raise ValueError(f"{token} is not valid JSON")


# One decoder for every request: json.loads with an option builds a new one per call.
_DECODER = json.JSONDecoder(parse_constant=_refuse_non_standard_number)

# serde_json's default, and so Apollo Router's. Deeper values (a check's `context`, handed to the
# CEL evaluator) would be walked recursively by native code that no Python guard protects.
MAX_NESTING = 128


def nested_deeper_than(value: dict | list, limit: int) -> bool:
    pending = [(value, 1)]
    while pending:
        container, depth = pending.pop()
        if depth > limit:
            return True
        children = container.values() if isinstance(container, dict) else container
        pending.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def json_object(request: HttpRequest) -> dict:
    """The body as a dict ({} when empty), or MALFORMED_REQUEST (400) saying what is wrong with it."""
    try:
        text = request.body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError("MALFORMED_REQUEST", "Request body is not valid UTF-8.") from exc
    if not text.strip():
        return {}
    try:
        data = _DECODER.decode(text)
    except (ValueError, RecursionError) as exc:
        raise ApiError("MALFORMED_REQUEST", "Request body is not valid JSON.") from exc
    if not isinstance(data, dict):
        raise ApiError("MALFORMED_REQUEST", "Request body must be a JSON object (batched arrays are not accepted).")
    # Fewer brackets than the limit cannot nest deeper than it: most bodies skip the walk.
    if text.count("{") + text.count("[") > MAX_NESTING and nested_deeper_than(data, MAX_NESTING):
        raise ApiError("MALFORMED_REQUEST", f"Request body is nested deeper than {MAX_NESTING} levels.")
    return data
