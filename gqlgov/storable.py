"""PostgreSQL cannot store NUL characters in text or jsonb; agents can send them anywhere."""

from typing import Any

_REPLACEMENT = "\ufffd"


def storable(value: Any) -> Any:
    """`value` with every NUL in strings (dict keys included) replaced by U+FFFD."""
    if isinstance(value, str):
        return value.replace("\x00", _REPLACEMENT) if "\x00" in value else value
    if isinstance(value, dict):
        return {storable(key): storable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [storable(item) for item in value]
    return value
