"""What changed between two policy documents, by meaning rather than by text.

Rules are matched by id, so moving a rule is not a change. Every other list in a policy is a set
(operation globs, subjects, denied fields, source IPs, days, rate limits, sensitive arguments: the
engine reads none of them in order), so a reorder or a repeated entry is not a change either; a
changed list says which entries it gained and lost.
"""

from __future__ import annotations

import json
from typing import Any

STATUSES = ("added", "changed", "removed", "unchanged")


def canonical(value: Any) -> Any:
    """`value` with every list as a sorted, de-duplicated set (dicts compared by content)."""
    if isinstance(value, dict):
        return {key: canonical(item) for key, item in value.items()}
    if isinstance(value, list):
        items = {json.dumps(canonical(item), sort_keys=True, default=str): canonical(item) for item in value}
        return [items[key] for key in sorted(items)]
    return value


def _leaves(value: Any, prefix: str = "") -> dict[str, Any]:
    """A document flattened to dotted keys (`fields.deny`, `limits.max_depth`) down to non-dicts."""
    if not isinstance(value, dict) or not value:
        return {prefix: value} if prefix else {}
    flat: dict[str, Any] = {}
    for key, item in value.items():
        flat.update(_leaves(item, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def _entry_text(item: Any) -> str:
    return item if isinstance(item, str) else json.dumps(item, sort_keys=True, default=str)


def value_changes(
    before: dict[str, Any] | None, after: dict[str, Any] | None, skip: frozenset[str]
) -> list[dict[str, Any]]:
    """The dotted keys whose meaning differs: {"key", "before", "after"}, and for two lists the
    entries `gained` and `lost`."""
    old, new = _leaves(canonical(before or {})), _leaves(canonical(after or {}))
    changes = []
    for key in sorted({*old, *new}):
        if key.split(".", 1)[0] in skip or old.get(key) == new.get(key):
            continue
        change: dict[str, Any] = {"key": key, "before": old.get(key), "after": new.get(key)}
        if isinstance(change["before"], list) and isinstance(change["after"], list):
            lost = {_entry_text(item) for item in change["before"]}
            gained = {_entry_text(item) for item in change["after"]}
            change.update(gained=sorted(gained - lost), lost=sorted(lost - gained))
        changes.append(change)
    return changes


def rule_diff(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """Rule-by-rule differences between two policy documents (by rule id; `old` None: nothing to
    compare with), plus the other top-level keys: {"rules", "other", "counts"}."""
    old = old or {}
    old_rules = {str(r.get("id")): r for r in old.get("rules") or [] if isinstance(r, dict)}
    new_rules = {str(r.get("id")): r for r in new.get("rules") or [] if isinstance(r, dict)}
    rules = []
    for rule_id in [*new_rules, *[r for r in old_rules if r not in new_rules]]:
        before, after = old_rules.get(rule_id), new_rules.get(rule_id)
        changes = value_changes(before, after, frozenset({"id"})) if before and after else []
        if before is None:
            status = "added"
        elif after is None:
            status = "removed"
        else:
            status = "changed" if changes else "unchanged"
        rules.append({"id": rule_id, "status": status, "before": before, "after": after, "changes": changes})
    other = value_changes(old, new, frozenset({"rules"})) if old else []
    counts = {status: sum(1 for r in rules if r["status"] == status) for status in STATUSES}
    return {"rules": rules, "other": other, "counts": counts}
