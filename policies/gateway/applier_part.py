"""What a part of the applier (usage_plans.py, stage_applier.py) reads from the `Applier` it is
mixed into: declared once, so each part type-checks on its own."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class ApplierPart:
    """The applier's plan, API Gateway client, dry-run flag and result; every change goes through
    its `_call`, and `_tags` are the tags gqlgov puts on what it creates."""

    plan: dict[str, Any]
    client: Any
    dry_run: bool
    result: Any
    _call: Callable[..., dict[str, Any]]
    _tags: Callable[..., dict[str, str]]
