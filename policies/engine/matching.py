"""Which rules apply, the one definition: a rule covers an agent when its `subjects` name the
agent (by name, kind or group; no `subjects`: every agent) and an operation when one of its
operation globs matches it (shell-style, case-sensitive, `*` crossing dots).

The compiled policy indexes rules by these same keys and patterns (policy.py); the export plan
and the console match policy documents as stored with `rule_matches`.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Collection, Iterable, Mapping
from functools import lru_cache
from typing import Any, Protocol

SUBJECT_KEYS = ("agents", "kinds", "groups")


class Agent(Protocol):
    """What matching needs to know of an agent (the engine's Subject, the plan's AgentInfo)."""

    @property
    def name(self) -> str: ...

    @property
    def kind(self) -> str: ...

    @property
    def groups(self) -> Collection[str]: ...


def subject_keys(name: str, kind: str, groups: Iterable[str]) -> list[tuple[str, str]]:
    """The (subjects key, value) pairs by which a rule's `subjects` may name this agent."""
    return [("agents", name), ("kinds", kind), *(("groups", group) for group in groups)]


def covers_subject(subjects: Mapping[str, Collection[str]] | None, name: str, kind: str, groups: Iterable[str]) -> bool:
    """True when a rule with these `subjects` applies to the agent (None: every agent)."""
    if subjects is None:
        return True
    return any(value in (subjects.get(key) or ()) for key, value in subject_keys(name, kind, groups))


def glob_pattern(globs: Iterable[str]) -> re.Pattern[str]:
    """One regex that fully matches what any of the globs matches; no globs: nothing."""
    return _compiled(tuple(globs))


@lru_cache(maxsize=4096)
def _compiled(globs: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{fnmatch.translate(glob)})" for glob in globs) or "(?!)")


def covers_operation(globs: Iterable[str], operation: str) -> bool:
    """True when one of the operation globs matches `operation` ("query.orders")."""
    return glob_pattern(globs).fullmatch(operation) is not None


def rule_matches(rule: Mapping[str, Any], agent: Agent | None = None, operation: str | None = None) -> bool:
    """True when a rule of a policy document (a mapping, as stored) covers the agent and the
    operation; a None agent or operation is not checked. An empty `subjects` means every agent."""
    if agent is not None and not covers_subject(rule.get("subjects") or None, agent.name, agent.kind, agent.groups):
        return False
    return operation is None or covers_operation(rule.get("operations") or (), operation)
