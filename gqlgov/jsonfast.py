"""orjson for encoding on the hot path, with the standard library wherever orjson would refuse.

orjson refuses what the `json` module accepts (integers beyond 64 bits, lone surrogates, non-string
keys), and datetimes and dataclasses are passed to `default` as `json` does; anything refused is
encoded by `json` instead, so the output means the same as before. Decoding likewise: orjson where
it reads the same values, else `json` (orjson reads integers beyond 64 bits as floats, and refuses
NaN and lone surrogates).
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


# A run of 19 digits may be an integer beyond 64 bits. Digits mapped to one byte and searched for as
# a substring: a regular expression took longer than the decoding it guards.
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_NINETEEN_DIGITS = b"0" * 19


def loads(text: str | bytes) -> Any:
    """json.loads, by orjson wherever it reads the same values (a decision record: 9 µs instead of 14)."""
    raw = text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass")
    if _NINETEEN_DIGITS not in raw.translate(_DIGITS_AS_ZERO):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
    return json.loads(text)
