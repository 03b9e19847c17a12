"""Policy files: YAML in and out, validation that reports every problem, and compilation into
an index that makes a check cost the same with 10 or 10,000 rules and agents."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import cel
import yaml

from . import cel_bounds
from .limits import DIMENSIONS, Limits
from .matching import SUBJECT_KEYS, glob_pattern, subject_keys
from .ratelimits import PERIOD_SECONDS as PERIOD_SECONDS  # re-exported for the admin forms
from .ratelimits import RateLimit, parse_rate_limits
from .schema import SchemaBundle

EFFECTS = ("allow", "deny", "require_approval")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CEL_VARIABLES = frozenset({"agent", "claims", "request", "args", "context"})

_TOP_KEYS = frozenset({"schema", "description", "defaults", "sensitive_arguments", "rules"})
_DEFAULTS_KEYS = frozenset({"limits", "introspection", "rate_limits"})
_RULE_KEYS = frozenset(
    {"id", "description", "effect", "subjects", "operations", "when", "limits", "fields", "rate_limits"}
)
_WHEN_KEYS = frozenset({"hours", "source_ips", "expression"})
_HOURS_KEYS = frozenset({"from", "to", "days", "tz"})
_RULE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}")
_OPERATION_GLOB = re.compile(r"(\*|query|mutation|subscription|[a-z*?\[\]!]+)\.[A-Za-z0-9_*?\[\]!]+|\*")
_COORDINATE_GLOB = re.compile(r"[A-Za-z0-9_*?\[\]!]+(\.[A-Za-z0-9_*?\[\]!]+){1,2}")
_CLOCK = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")
# Names a CEL comprehension binds (`list.exists(x, ...)`), which are not free variables.
_CEL_BOUND = re.compile(r"\.\s*(?:all|exists|exists_one|map|filter)\s*\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*,")
# cel-go's default parser limits. The CEL library we use has none: it recurses once per nesting
# level while compiling and evaluating, and too many levels (20,000 on an 8 MB stack, 400 on a
# 256 KB one) overflow the native stack and kill the process (no Python exception), so an
# expression is measured before it is compiled.
MAX_CEL_EXPRESSION_CHARS = 100_000
MAX_CEL_NESTING = 250
# Each operator, selection, index or call opens at most one level of the expression's tree.
_CEL_NESTING_TOKEN = re.compile(r"&&|\|\||[=!<>]=|[-+*/%<>!?.\[(]|\bin\b")


class PolicyValidationError(ValueError):
    """A policy with problems; `errors` lists every one as {"rule", "field", "message"}."""

    def __init__(self, errors: list[dict[str, str | None]]) -> None:
        super().__init__("; ".join(f"{e['field'] or 'policy'}: {e['message']}" for e in errors))
        self.errors = errors


# ---------------------------------------------------------------------------------- YAML


class _PolicyLoader(yaml.SafeLoader):
    """YAML 1.2 scalars: `18:00` stays a string (YAML 1.1 reads it as the number 1080), and
    only true/false are booleans (`on`, `no`, `off` stay strings). A key repeated in one mapping
    is an error, as YAML 1.2 says: PyYAML keeps the last silently, so a reviewer would approve
    rules that are never loaded."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen = set()
        for key_node, _value in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue  # keys merged in with `<<` may be overridden, as YAML intends
            key = self.construct_object(key_node)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping", node.start_mark, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_YAML_1_1_SCALARS = ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
_PolicyLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in _YAML_1_1_SCALARS]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
for _tag, _pattern, _first in (
    ("tag:yaml.org,2002:bool", r"true|True|TRUE|false|False|FALSE", "tTfF"),
    ("tag:yaml.org,2002:int", r"[-+]?(?:0|[1-9][0-9_]*)", "-+0123456789"),
    ("tag:yaml.org,2002:float", r"[-+]?(?:[0-9][0-9_]*)?\.[0-9]+(?:[eE][-+]?[0-9]+)?", "-+0123456789."),
):
    _PolicyLoader.add_implicit_resolver(_tag, re.compile(f"^(?:{_pattern})$"), list(_first))


def parse_policy_yaml(text: str) -> dict[str, Any]:
    """The policy document in `text`; raises PolicyValidationError for YAML that is not a mapping."""
    try:
        document = yaml.load(text, Loader=_PolicyLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error)
        raise PolicyValidationError([_error(None, "", f"YAML syntax error{where}: {problem}")]) from None
    except RecursionError:
        # PyYAML's parser and composer recurse once per nesting level.
        raise PolicyValidationError([_error(None, "", "YAML nested too deeply")]) from None
    if not isinstance(document, dict):
        raise PolicyValidationError([_error(None, "", "A policy must be a YAML mapping.")])
    return document


def dump_policy_yaml(document: Mapping[str, Any]) -> str:
    """`document` as YAML, keys in their given order; parse_policy_yaml reads it back unchanged."""
    return yaml.safe_dump(
        dict(document), sort_keys=False, allow_unicode=True, default_flow_style=False, width=100
    )


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
    limits: Limits
    denied_fields: tuple[str, ...]  # fields.deny globs
    denies_field: GlobSet
    rate_limits: tuple[RateLimit, ...]

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
        wildcards = [glob for glob in globs if _is_glob(glob)]
        return cls(
            frozenset(glob for glob in globs if not _is_glob(glob)),
            glob_pattern(wildcards) if wildcards else None,
        )

    def __call__(self, name: str) -> bool:
        return name in self.exact or (self.pattern is not None and self.pattern.fullmatch(name) is not None)

    def may_match_any(self, names: Collection[str]) -> bool:
        """False only when no name can match; a cheap set test for literal-only globs."""
        return self.pattern is not None or not self.exact.isdisjoint(names)


def _is_glob(text: str) -> bool:
    return any(char in text for char in "*?[")


# ------------------------------------------------------------------------------ compiling


def _error(rule: str | None, where: str, message: str) -> dict[str, str | None]:
    return {"rule": rule, "field": where, "message": message}


def _without_string_literals(expression: str) -> str:
    """`expression` with each CEL string literal replaced by `""`, in one pass (a regular
    expression for escaped literals backtracks for minutes on unclosed ones)."""
    kept: list[str] = []
    position, end = 0, len(expression)
    while position < end:
        quote_char = expression[position]
        if quote_char not in "'\"":
            kept.append(quote_char)
            position += 1
            continue
        raw = "r" in expression[max(0, position - 2):position].lower()
        quote = quote_char * 3 if expression.startswith(quote_char * 3, position) else quote_char
        position += len(quote)
        while position < end and not expression.startswith(quote, position):
            if len(quote) == 1 and expression[position] == "\n":
                break  # unclosed: CEL refuses it; what follows is counted
            position += 2 if expression[position] == "\\" and not raw else 1
        position += len(quote)
        kept.append('""')
    return "".join(kept)


def _shortened(message: str, limit: int = 300) -> str:
    """A library message cut to `limit` characters: the CEL parser quotes the whole expression."""
    return message if len(message) <= limit else message[: limit - 1] + "…"


class _Compiler:
    """Checks a policy document, collecting every problem, and builds its compiled form."""

    def __init__(self) -> None:
        self.errors: list[dict[str, str | None]] = []
        self.rule_id: str | None = None

    def fail(self, where: str, message: str) -> None:
        self.errors.append(_error(self.rule_id, where, message))

    def mapping(self, value: Any, where: str, allowed: frozenset[str]) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.fail(where, "must be a mapping")
            return {}
        for key in value:
            if key not in allowed:
                self.fail(f"{where}.{key}" if where else str(key), f"unknown key {key!r}")
        return value

    def strings(self, value: Any, where: str) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
            self.fail(where, "must be a list of non-empty strings")
            return []
        return value

    def integer(self, value: Any, where: str, *, minimum: int = 1) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.fail(where, f"must be an integer >= {minimum}")
            return None
        return int(value)

    def limits(self, value: Any, where: str) -> Limits:
        values = self.mapping(value, where, frozenset(DIMENSIONS))
        checked = {
            key: self.integer(item, f"{where}.{key}", minimum=0)
            for key, item in values.items()
            if key in DIMENSIONS
        }
        return Limits.from_mapping({key: item for key, item in checked.items() if item is not None})

    def rate_limits(self, value: Any, where: str) -> tuple[RateLimit, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            self.fail(where, "must be a list")
            return ()
        limits, problems = parse_rate_limits(value)
        for problem in problems:
            at = f"{where}[{problem.position}]"
            self.fail(f"{at}.{problem.key}" if problem.key else at, problem.message)
        return limits

    def operation_globs(self, value: Any, where: str) -> tuple[str, ...]:
        globs = self.strings(value, where)
        for position, glob in enumerate(globs):
            if not _OPERATION_GLOB.fullmatch(glob) or not _balanced_brackets(glob):
                self.fail(
                    f"{where}[{position}]",
                    f"{glob!r} is not an operation glob like 'query.orders*' or 'mutation.*'",
                )
        return tuple(globs)

    def field_globs(self, value: Any, where: str) -> list[str]:
        globs = self.strings(value, where)
        for position, glob in enumerate(globs):
            if not _COORDINATE_GLOB.fullmatch(glob) or not _balanced_brackets(glob):
                self.fail(f"{where}[{position}]", f"{glob!r} is not a coordinate glob like 'Customer.ssn'")
        return globs

    def hours(self, value: Any, where: str) -> Hours | None:
        entry = self.mapping(value, where, _HOURS_KEYS)
        clock = {}
        for key in ("from", "to"):
            text = entry.get(key)
            match = _CLOCK.fullmatch(text) if isinstance(text, str) else None
            if match is None:
                self.fail(f"{where}.{key}", 'must be a time "HH:MM" (24-hour clock, quoted)')
            else:
                clock[key] = time(int(match[1]), int(match[2]))
        days = entry.get("days", list(DAYS))
        if not isinstance(days, list) or not days or any(day not in DAYS for day in days):
            self.fail(f"{where}.days", f"must be a non-empty list of {', '.join(DAYS)}")
            days = []
        tz = self.time_zone(entry.get("tz", "UTC"), f"{where}.tz")
        if len(clock) < 2 or tz is None or not days:
            return None
        if clock["from"] == clock["to"]:
            self.fail(where, "from and to must differ")
            return None
        return Hours(clock["from"], clock["to"], frozenset(DAYS.index(day) for day in days), tz)

    def time_zone(self, name: Any, where: str) -> ZoneInfo | None:
        if not isinstance(name, str) or not name:
            self.fail(where, "must be an IANA time zone name such as 'Europe/Berlin'")
            return None
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            self.fail(where, f"unknown time zone {name!r}")
            return None

    def networks(self, value: Any, where: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        networks = []
        for position, text in enumerate(self.strings(value, where)):
            try:
                networks.append(ipaddress.ip_network(text))
            except ValueError as error:
                self.fail(f"{where}[{position}]", f"not a CIDR network: {error}")
        return tuple(networks)

    def expression(self, value: Any, where: str) -> cel.Program | None:
        if not isinstance(value, str) or not value.strip():
            self.fail(where, "must be a CEL expression string")
            return None
        if len(value) > MAX_CEL_EXPRESSION_CHARS:
            self.fail(where, f"longer than {MAX_CEL_EXPRESSION_CHARS:,} characters")
            return None
        without_strings = _without_string_literals(value)
        nesting = len(_CEL_NESTING_TOKEN.findall(without_strings))
        if nesting > MAX_CEL_NESTING:
            self.fail(where, f"too complex: {nesting} operators, selections and brackets,"
                             f" at most {MAX_CEL_NESTING}")
            return None
        problem = cel_bounds.shape_problem(without_strings)
        if problem is not None:
            self.fail(where, problem)
            return None
        try:
            program = cel.compile(value)
        except Exception as error:
            self.fail(where, f"CEL syntax error: {_shortened(str(error).splitlines()[0])}")
            return None
        bound = set(_CEL_BOUND.findall(value))
        unknown = sorted(set(program.variables()) - CEL_VARIABLES - bound)
        if unknown:
            self.fail(
                where,
                f"unknown variable(s) {', '.join(unknown)}; use {', '.join(sorted(CEL_VARIABLES))}",
            )
            return None
        return program

    def rule(self, value: Any, index: int, seen: set[str]) -> Rule | None:
        where = f"rules[{index}]"
        self.rule_id = None
        if not isinstance(value, dict):
            self.fail(where, "must be a mapping")
            return None
        rule_id = value.get("id")
        if isinstance(rule_id, str) and _RULE_ID.fullmatch(rule_id):
            self.rule_id = rule_id
            if rule_id in seen:
                self.fail(f"{where}.id", f"duplicate rule id {rule_id!r}")
            seen.add(rule_id)
        else:
            self.fail(f"{where}.id", "must be a string of letters, digits, '_', '-', '.', ':'")
        entry = self.mapping(value, where, _RULE_KEYS)
        effect = entry.get("effect")
        if effect not in EFFECTS:
            self.fail(f"{where}.effect", f"must be one of {', '.join(EFFECTS)}")
        subjects = None
        if "subjects" in entry:
            listed = self.mapping(entry["subjects"], f"{where}.subjects", frozenset(SUBJECT_KEYS))
            subjects = {
                key: frozenset(self.strings(listed[key], f"{where}.subjects.{key}"))
                for key in SUBJECT_KEYS
                if key in listed
            }
            if not subjects:
                self.fail(
                    f"{where}.subjects", "must list agents, kinds or groups (omit it to match every agent)"
                )
        if "operations" not in entry:
            self.fail(f"{where}.operations", "is required")
        operations = self.operation_globs(entry.get("operations", []), f"{where}.operations")
        when = self.mapping(entry.get("when"), f"{where}.when", _WHEN_KEYS)
        hours = self.hours(when["hours"], f"{where}.when.hours") if "hours" in when else None
        networks = (
            self.networks(when["source_ips"], f"{where}.when.source_ips") if "source_ips" in when else None
        )
        expression = (
            self.expression(when["expression"], f"{where}.when.expression") if "expression" in when else None
        )
        limits = self.limits(entry.get("limits"), f"{where}.limits")
        fields = self.mapping(entry.get("fields"), f"{where}.fields", frozenset({"deny"}))
        denied = self.field_globs(fields.get("deny", []), f"{where}.fields.deny")
        rate_limits = self.rate_limits(entry.get("rate_limits"), f"{where}.rate_limits")
        if self.rule_id is None or effect not in EFFECTS:
            return None
        return Rule(
            id=self.rule_id,
            index=index,
            effect=effect,
            subjects=subjects,
            operation_globs=operations,
            hours=hours,
            source_networks=networks,
            expression=expression,
            expression_reads_args=expression is not None and "args" in expression.variables(),
            limits=limits,
            denied_fields=tuple(denied),
            denies_field=GlobSet.of(denied),
            rate_limits=rate_limits,
        )


def _balanced_brackets(glob: str) -> bool:
    depth = 0
    for char in glob:
        depth += {"[": 1, "]": -1}.get(char, 0)
        if depth not in (0, 1):
            return False
    return depth == 0


def compile_policy(document: Mapping[str, Any], *, schema: SchemaBundle | None = None) -> CompiledPolicy:
    """The compiled policy; raises PolicyValidationError listing every problem found.

    References to operations or fields the schema lacks are not errors: see stale_references.
    With a schema, the operation index memoises that schema's operations only.
    """
    compiler = _Compiler()
    top = compiler.mapping(document, "", _TOP_KEYS)
    name = top.get("schema")
    if not isinstance(name, str) or not name:
        compiler.fail("schema", "must name the schema this policy governs")
    defaults = compiler.mapping(top.get("defaults"), "defaults", _DEFAULTS_KEYS)
    default_limits = compiler.limits(defaults.get("limits"), "defaults.limits")
    introspection = defaults.get("introspection", "deny")
    if introspection not in ("allow", "deny"):
        compiler.fail("defaults.introspection", "must be allow or deny")
    default_rate_limits = compiler.rate_limits(defaults.get("rate_limits"), "defaults.rate_limits")
    sensitive = compiler.strings(top.get("sensitive_arguments", []), "sensitive_arguments")
    raw_rules = top.get("rules", [])
    rules: list[Rule] = []
    if not isinstance(raw_rules, list):
        compiler.fail("rules", "must be a list")
        raw_rules = []
    seen: set[str] = set()
    for index, raw_rule in enumerate(raw_rules):
        rule = compiler.rule(raw_rule, index, seen)
        if rule is not None:
            rules.append(rule)
    if compiler.errors:
        raise PolicyValidationError(compiler.errors)
    return CompiledPolicy(
        schema=str(name),
        rules=tuple(rules),
        default_limits=default_limits,
        introspection_allowed=introspection == "allow",
        default_rate_limits=default_rate_limits,
        sensitive_globs=tuple(sensitive),
        known_operations=frozenset(schema.operations) if schema is not None else None,
    )


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
    if not _is_glob(glob):
        return glob in names
    pattern = glob_pattern([glob])
    return any(pattern.fullmatch(name) for name in names)


def ungoverned_operations(policy: CompiledPolicy, schema: SchemaBundle) -> list[str]:
    """Operations of `schema` that no allow or require_approval rule covers (so always denied)."""
    admitting = {rule.index for rule in policy.rules if rule.effect != "deny"}
    return [op for op in schema.operations if not (policy.rules_for_operation(op) & admitting)]
