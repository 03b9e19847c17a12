"""A compiled policy and what is asked of it: the rules that may apply to an agent and an
operation, denied fields, and how a policy stands against a schema (stale references,
ungoverned operations). Files are read in policy_yaml.py and compiled in compiler.py."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import cel

from .cel_bounds import conjuncts
from .limits import Limits
from .matching import glob_pattern, subject_keys
from .ratelimits import PERIOD_SECONDS as PERIOD_SECONDS  # re-exported for the admin forms
from .ratelimits import RateLimit
from .schema import SchemaBundle

EFFECTS = ("allow", "deny", "require_approval")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CEL_VARIABLES = frozenset({"agent", "claims", "request", "args", "context"})

class PolicyValidationError(ValueError):
    """A policy with problems; `errors` lists every one as {"rule", "field", "message"}."""

    def __init__(self, errors: list[dict[str, str | None]]) -> None:
        super().__init__("; ".join(f"{e['field'] or 'policy'}: {e['message']}" for e in errors))
        self.errors = errors


def _error(rule: str | None, where: str, message: str) -> dict[str, str | None]:
    return {"rule": rule, "field": where, "message": message}


# ------------------------------------------------------------------------- compiled form


@dataclass(frozen=True, slots=True)
class Hours:
    start: time
    end: time  # end <= start means the window runs past midnight
    days: frozenset[int]  # Monday is 0
    tz: ZoneInfo

    def contain(self, local_weekday: int, local_time: time) -> bool:
        if local_weekday not in self.days:
            return False
        if self.start < self.end:
            return self.start <= local_time < self.end
        return local_time >= self.start or local_time < self.end

    def contain_instant(self, instant: datetime) -> bool:
        """Whether the timezone-aware `instant` falls in the window (in the window's time zone)."""
        local = instant.astimezone(self.tz)
        return self.contain(local.weekday(), local.time().replace(tzinfo=None))

    def next_opening(self, after: datetime) -> datetime | None:
        """When the window next opens after the timezone-aware `after`, in the window's time zone
        (None if it is open then). It opens at its start, or at midnight on a listed day that an
        overnight window of an unlisted day before does not run into."""
        if self.contain_instant(after):
            return None
        local = after.astimezone(self.tz)
        minute = timedelta(minutes=1)
        for offset in range(8):
            day = local.date() + timedelta(days=offset)
            for clock in sorted({time(0, 0), self.start}):
                candidate = datetime.combine(day, clock, tzinfo=self.tz)
                if candidate > local and self.contain_instant(candidate) and not self.contain_instant(
                    candidate - minute
                ):
                    return candidate
        return None


@dataclass(frozen=True, slots=True)
class Approval:
    """What a require_approval rule asks of people: `approvers` distinct approvals, from members of
    `groups` (empty: anyone with the approver role), within `expires_in_s` (None: the deployment's
    default, GQLGOV_APPROVAL_TTL_S)."""

    approvers: int = 1
    groups: tuple[str, ...] = ()
    expires_in_s: int | None = None


DEFAULT_APPROVAL = Approval()


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    index: int  # position in the file: earlier rules are reported first
    effect: str
    subjects: Mapping[str, frozenset[str]] | None  # None: every agent
    operation_globs: tuple[str, ...]
    hours: Hours | None
    source_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] | None
    expression: cel.Program | None
    expression_reads_args: bool  # otherwise it is evaluated once per check, not per root field
    expression_text: str | None  # its source, split into clauses to say which one failed
    limits: Limits
    denied_fields: tuple[str, ...]  # fields.deny globs
    denies_field: GlobSet
    rate_limits: tuple[RateLimit, ...]
    approval: Approval | None = None  # require_approval rules only (DEFAULT_APPROVAL when not given)

    @property
    def has_conditions(self) -> bool:
        return self.hours is not None or self.source_networks is not None or self.expression is not None

    @property
    def denies_whole_operation(self) -> bool:
        """A deny rule without `fields` denies the root field; with `fields` only those fields."""
        return self.effect == "deny" and not self.denied_fields


@dataclass(eq=False)
class CompiledPolicy:
    """A validated policy, indexed by subject and (lazily, memoised) by operation name."""

    schema: str
    rules: tuple[Rule, ...]
    default_limits: Limits
    introspection_allowed: bool
    default_rate_limits: tuple[RateLimit, ...]
    sensitive_globs: tuple[str, ...]
    # The schema's operations: only these are memoised, so odd names cannot grow the index.
    known_operations: frozenset[str] | None = None
    contact: str | None = None  # who owns the policy, named in NO_MATCHING_RULE hints
    rules_by_id: Mapping[str, Rule] = field(init=False)
    cel_variables: frozenset[str] = field(init=False)  # those any expression reads
    _everyone: tuple[int, ...] = field(init=False)
    _by_subject: dict[tuple[str, str], tuple[int, ...]] = field(init=False)
    _by_operation: dict[str, frozenset[int]] = field(init=False, default_factory=dict)
    _operation_pattern: dict[int, re.Pattern[str]] = field(init=False)
    # (rule index, a root field's coordinates) -> those its `fields.deny` globs match (bounded).
    _denied_coordinates: dict[tuple[int, tuple[str, ...]], tuple[str, ...]] = field(
        init=False, default_factory=dict
    )
    # Computed on denials only (hints), memoised and bounded like the index above.
    _clauses: dict[int, tuple[tuple[str, cel.Program], ...]] = field(init=False, default_factory=dict)
    _callable: dict[tuple[int, ...], tuple[Sequence[str], tuple[str, ...]]] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.rules_by_id = {rule.id: rule for rule in self.rules}
        self.cel_variables = frozenset(
            name for rule in self.rules if rule.expression for name in rule.expression.variables()
        )
        everyone: list[int] = []
        by_subject: dict[tuple[str, str], list[int]] = {}
        for rule in self.rules:
            if rule.subjects is None:
                everyone.append(rule.index)
                continue
            for key, values in rule.subjects.items():
                for value in values:
                    by_subject.setdefault((key, value), []).append(rule.index)
        self._everyone = tuple(everyone)
        self._by_subject = {key: tuple(indexes) for key, indexes in by_subject.items()}
        self._operation_pattern = {rule.index: glob_pattern(rule.operation_globs) for rule in self.rules}

    def candidate_rules(self, name: str, kind: str, groups: Sequence[str]) -> list[Rule]:
        """The rules whose subjects cover this agent (matching.covers_subject), in file order."""
        indexes = set(self._everyone)
        for key in subject_keys(name, kind, groups):
            indexes.update(self._by_subject.get(key, ()))
        return [self.rules[index] for index in sorted(indexes)]

    def rules_for_operation(self, operation: str) -> frozenset[int]:
        """Indexes of the rules whose operation globs match `operation` (matching.covers_operation,
        memoised per name)."""
        indexes = self._by_operation.get(operation)
        if indexes is None:
            indexes = frozenset(
                index for index, pattern in self._operation_pattern.items() if pattern.fullmatch(operation)
            )
            if self.known_operations is None or operation in self.known_operations:
                self._by_operation[operation] = indexes
        return indexes

    def denied_coordinates(self, rule: Rule, coordinates: Collection[str]) -> tuple[str, ...]:
        """The `coordinates` that `rule`'s `fields.deny` globs match, in order (memoised per rule and
        coordinate set: a cached document's root fields are matched once, not on every check)."""
        if not rule.denies_field.may_match_any(coordinates):
            return ()
        key = (rule.index, tuple(coordinates))
        matched = self._denied_coordinates.get(key)
        if matched is None:
            matched = tuple(coordinate for coordinate in coordinates if rule.denies_field(coordinate))
            if len(self._denied_coordinates) >= _DENIED_COORDINATES_MEMO:
                self._denied_coordinates.clear()  # odd documents cannot grow it without bound
            self._denied_coordinates[key] = matched
        return matched

    def expression_clauses(self, rule: Rule) -> tuple[tuple[str, cel.Program], ...]:
        """The top-level `&&` clauses of `rule`'s expression, each compiled (one clause when it is not
        a conjunction), to tell which one does not hold. Each is part of an expression that passed
        the load-time bounds, so it is within them too."""
        clauses = self._clauses.get(rule.index)
        if clauses is None:
            compiled = []
            for text in conjuncts(rule.expression_text or ""):
                try:
                    compiled.append((text, cel.compile(text)))
                except Exception:  # a clause the library reads otherwise alone: judge the whole
                    return ()
            clauses = self._clauses[rule.index] = tuple(compiled) if len(compiled) > 1 else ()
        return clauses

    def callable_operations(self, candidates: Sequence[Rule], operations: Sequence[str]) -> tuple[str, ...]:
        """The `operations` (a schema's, in its order) an agent whose candidate rules are `candidates`
        may call: an allow or require_approval rule covers it (maybe under conditions) and no
        unconditional deny of the whole operation does. Memoised per set of candidate rules."""
        key = tuple(rule.index for rule in candidates)
        memo = self._callable.get(key)
        if memo is not None and memo[0] is operations:
            return memo[1]
        admitting = [self._operation_pattern[rule.index] for rule in candidates if rule.effect != "deny"]
        denying = [
            self._operation_pattern[rule.index]
            for rule in candidates
            if rule.denies_whole_operation and not rule.has_conditions
        ]
        found = tuple(
            operation
            for operation in operations
            if any(pattern.fullmatch(operation) for pattern in admitting)
            and not any(pattern.fullmatch(operation) for pattern in denying)
        )
        if len(self._callable) >= _DENIED_COORDINATES_MEMO:
            self._callable.clear()
        self._callable[key] = (operations, found)
        return found

    def rate_limits_of(self, rule_id: str) -> tuple[RateLimit, ...]:
        rule = self.rules_by_id.get(rule_id)
        return rule.rate_limits if rule else ()


_DENIED_COORDINATES_MEMO = 4096


@dataclass(frozen=True, slots=True)
class GlobSet:
    """Shell-style globs where `*` also crosses dots; literal entries are looked up in a set."""

    exact: frozenset[str]
    pattern: re.Pattern[str] | None

    @classmethod
    def of(cls, globs: Sequence[str]) -> GlobSet:
        wildcards = [glob for glob in globs if is_glob(glob)]
        return cls(
            frozenset(glob for glob in globs if not is_glob(glob)),
            glob_pattern(wildcards) if wildcards else None,
        )

    def __call__(self, name: str) -> bool:
        return name in self.exact or (self.pattern is not None and self.pattern.fullmatch(name) is not None)

    def may_match_any(self, names: Collection[str]) -> bool:
        """False only when no name can match; a cheap set test for literal-only globs."""
        return self.pattern is not None or not self.exact.isdisjoint(names)


def is_glob(text: str) -> bool:
    return any(char in text for char in "*?[")


# ----------------------------------------------------------------- policy against schema


@dataclass(frozen=True, slots=True)
class StaleReference:
    """A rule entry that names nothing in the schema."""

    rule: str
    field: str  # "rules[3].operations[0]"
    reference: str
    kind: str  # "operation" | "field"

    def as_dict(self) -> dict[str, str]:
        return {"rule": self.rule, "field": self.field, "reference": self.reference, "kind": self.kind}


def stale_references(policy: CompiledPolicy, schema: SchemaBundle) -> list[StaleReference]:
    """Operation globs and fields.deny entries that match nothing in `schema`."""
    stale = []
    for rule in policy.rules:
        where = f"rules[{rule.index}]"
        for position, glob in enumerate(rule.operation_globs):
            if not _matches_any(glob, schema.operations):
                stale.append(StaleReference(rule.id, f"{where}.operations[{position}]", glob, "operation"))
        for position, glob in enumerate(rule.denied_fields):
            if not _matches_any(glob, schema.coordinates):
                stale.append(StaleReference(rule.id, f"{where}.fields.deny[{position}]", glob, "field"))
    return stale


def _matches_any(glob: str, names: Collection[str]) -> bool:
    if not is_glob(glob):
        return glob in names
    pattern = glob_pattern([glob])
    return any(pattern.fullmatch(name) for name in names)


def ungoverned_operations(policy: CompiledPolicy, schema: SchemaBundle) -> list[str]:
    """Operations of `schema` that no rule of any effect names: nobody decided anything about them.

    An operation only a deny rule names is governed (someone chose to refuse it); an ungoverned one
    is denied too, but by default, which is what a reviewer must be shown."""
    return [op for op in schema.operations if not policy.rules_for_operation(op)]
