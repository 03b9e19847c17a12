"""Formatting the admin pages of every app share (the console's and the apps' own ModelAdmins)."""

import json
from typing import Any


def pretty(value: Any) -> str:
    """JSON-like data as indented, key-sorted JSON text for a <pre> block."""
    return json.dumps(value, indent=2, sort_keys=True, default=str)
