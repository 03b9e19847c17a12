"""The one reading of a JSON request body: UTF-8, strict JSON (no NaN or Infinity), an object."""

import json

from django.http import HttpRequest

from gqlgov.errors import ApiError


def _refuse_non_standard_number(token: str):
    # NaN and Infinity are not JSON; PostgreSQL's jsonb and SQLite's JSON refuse to store them.
    raise ValueError(f"{token} is not valid JSON")


# One decoder for every request: json.loads with an option builds a new one per call.
_DECODER = json.JSONDecoder(parse_constant=_refuse_non_standard_number)


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
    return data
