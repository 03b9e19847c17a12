"""PostgreSQL cannot store NUL characters or lone surrogates in text or jsonb; agents can send both."""

from typing import Any

_REPLACEMENT = "\ufffd"


def storable(value: Any) -> Any:
    """`value` with every NUL and lone surrogate in strings (dict keys included) replaced."""
    if isinstance(value, str):
        if "\x00" in value:
            value = value.replace("\x00", _REPLACEMENT)
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate, e.g. from the JSON escape "\ud800"
            value = value.encode("utf-8", "replace").decode("utf-8")
        return value
    if isinstance(value, dict):
        return {storable(key): storable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [storable(item) for item in value]
    return value
