"""orjson for encoding on the hot path, with the standard library wherever orjson would refuse.

orjson refuses what the `json` module accepts (integers beyond 64 bits, lone surrogates, non-string
keys), and datetimes and dataclasses are passed to `default` as `json` does; anything refused is
encoded by `json` instead, so the output means the same as before. Decoding stays with `json`:
orjson reads integers beyond 64 bits as floats.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import orjson

_DUMP_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


class _Fallback(Exception):
    pass


def _refuse(value: Any) -> Any:
    raise _Fallback


def dumps(value: Any, *, default: Callable[[Any], Any] | None = None) -> bytes:
    """Compact UTF-8 JSON; values orjson does not encode natively go through `default`, else the
    standard library encodes the whole value (compact, `default`, ASCII-escaped)."""
    try:
        return orjson.dumps(value, default=default or _refuse, option=_DUMP_OPTIONS)
    except (orjson.JSONEncodeError, _Fallback):
        return json.dumps(value, separators=(",", ":"), default=default).encode("utf-8")

