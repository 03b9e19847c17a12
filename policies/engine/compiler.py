"""Compiling a policy document: validation that reports every problem, then the indexed
CompiledPolicy that makes a check cost the same with 10 or 10,000 rules and agents."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from datetime import time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import cel

from . import cel_bounds, cel_types
from .limits import DIMENSIONS, Limits
from .matching import SUBJECT_KEYS
from .policy import (
    CEL_VARIABLES,
    DAYS,
    DEFAULT_APPROVAL,
    EFFECTS,
    Approval,
    CompiledPolicy,
    GlobSet,
    Hours,
    PolicyValidationError,
    Rule,
    _error,
)
from .ratelimits import RateLimit, parse_rate_limits
from .schema import SchemaBundle

_TOP_KEYS = frozenset({"schema", "description", "contact", "defaults", "sensitive_arguments", "rules"})
# `contact` is quoted in the hints of every NO_MATCHING_RULE denial (and stored with them).
MAX_CONTACT_CHARS = 200
# The policy's and each rule's `description`: shown in the console's lists and reviews.
MAX_DESCRIPTION_CHARS = 2_000
_DEFAULTS_KEYS = frozenset({"limits", "introspection", "rate_limits"})
_RULE_KEYS = frozenset(
    {"id", "description", "effect", "subjects", "operations", "when", "limits", "fields", "rate_limits", "approval"}
)
_APPROVAL_KEYS = frozenset({"approvers", "groups", "expires_in"})
MAX_APPROVERS = 10
# An approval waits at least a minute (someone must read it) and at most 30 days.
MIN_APPROVAL_S, MAX_APPROVAL_S = 60, 30 * 86_400
_DURATION = re.compile(r"([1-9][0-9]{0,6})([smhd])")
_DURATION_S = {"s": 1, "m": 60, "h": 3_600, "d": 86_400}
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


def _shortened(message: str, limit: int = 300) -> str:
    """A library message cut to `limit` characters: the CEL parser quotes the whole expression."""
    return message if len(message) <= limit else message[: limit - 1] + "…"


class _Compiler:
    """Checks a policy document, collecting every problem, and builds its compiled form."""

    def __init__(self, caps: Limits | None = None) -> None:
        self.errors: list[dict[str, str | None]] = []
        self.rule_id: str | None = None
        self.caps = caps

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
            key: self.capped(self.integer(item, f"{where}.{key}", minimum=0), key, f"{where}.{key}")
            for key, item in values.items()
            if key in DIMENSIONS
        }
        return Limits.from_mapping({key: item for key, item in checked.items() if item is not None})

    def capped(self, value: int | None, dimension: str, where: str) -> int | None:
        """`value`, or None with an error naming the server's hard cap on `dimension` when over it."""
        cap = self.caps.get(dimension) if self.caps is not None else None
        if value is not None and cap is not None and value > cap:
            self.fail(where, f"must be at most {cap:,}: the server's hard cap on {dimension}"
                             f" ({hard_cap_setting(dimension)})")
            return None
        return value

    def description(self, value: Any, where: str) -> None:
        if value is None:
            return
        if not isinstance(value, str):
            self.fail(where, "must be a string")
        elif len(value) > MAX_DESCRIPTION_CHARS:
            self.fail(where, f"must be at most {MAX_DESCRIPTION_CHARS:,} characters (it has {len(value):,})")

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

    def contact(self, value: Any) -> str | None:
        """Who owns the policy (a name, an address, a channel): one line of plain text."""
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip() or not value.isprintable():
            self.fail("contact", "must be a non-empty string on one line (who owns this policy)")
            return None
        if len(value) > MAX_CONTACT_CHARS:
            self.fail("contact", f"must be at most {MAX_CONTACT_CHARS} characters")
            return None
        return value.strip()

    def approval(self, value: Any, where: str, effect: Any) -> Approval | None:
        """A require_approval rule's `approval` (its default when absent); an error on other rules."""
        if effect != "require_approval":
            if value is not None:
                self.fail(where, "is only for rules with effect require_approval")
            return None
        entry = self.mapping(value, where, _APPROVAL_KEYS)
        approvers = self.integer(entry.get("approvers", 1), f"{where}.approvers")
        if approvers is not None and approvers > MAX_APPROVERS:
            self.fail(f"{where}.approvers", f"must be at most {MAX_APPROVERS}")
        groups = tuple(self.strings(entry["groups"], f"{where}.groups")) if "groups" in entry else ()
        expires_in = self.duration(entry["expires_in"], f"{where}.expires_in") if "expires_in" in entry else None
        return Approval(approvers or 1, groups, expires_in) if entry else DEFAULT_APPROVAL

    def duration(self, value: Any, where: str) -> int | None:
        """Seconds from `90s`, `15m`, `2h`, `1d` (or a plain number of seconds), within the approval bounds."""
        match = _DURATION.fullmatch(value) if isinstance(value, str) else None
        seconds: int | None = None
        if match is not None:
            seconds = int(match[1]) * _DURATION_S[match[2]]
        elif isinstance(value, int) and not isinstance(value, bool):
            seconds = value
        if seconds is None or not MIN_APPROVAL_S <= seconds <= MAX_APPROVAL_S:
            self.fail(where, f"must be a duration such as '15m', '2h' or '1d', between {MIN_APPROVAL_S // 60} minute"
                             f" and {MAX_APPROVAL_S // 86_400} days")
            return None
        return seconds

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
        without_strings = cel_bounds.without_string_literals(value)
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
        kind = cel_types.expression_type(value)
        if kind not in (cel_types.BOOL, cel_types.DYN):
            # A condition that is not a boolean never holds: its rule would silently never match.
            article = "an" if kind[0] in "aeiou" else "a"
            self.fail(where, f"must be a boolean condition, but it gives {article} {kind}; compare it,"
                             " e.g. 'args.amount <= 100' or 'size(claims.groups) > 0'")
            return None
        return program

    def rule_identity(self, rule_id: Any, where: str, seen: set[str]) -> None:
        """Checks the rule's id (well-formed, unique) and remembers it for the errors that follow."""
        if isinstance(rule_id, str) and _RULE_ID.fullmatch(rule_id):
            self.rule_id = rule_id
            if rule_id in seen:
                self.fail(f"{where}.id", f"duplicate rule id {rule_id!r}")
            seen.add(rule_id)
        else:
            self.fail(f"{where}.id", "must be a string of letters, digits, '_', '-', '.', ':'")

    def subjects(self, value: Any, where: str) -> dict[str, frozenset[str]]:
        listed = self.mapping(value, where, frozenset(SUBJECT_KEYS))
        subjects = {
            key: frozenset(self.strings(listed[key], f"{where}.{key}")) for key in SUBJECT_KEYS if key in listed
        }
        if not subjects:
            self.fail(where, "must list agents, kinds or groups (omit it to match every agent)")
        return subjects

    def rule(self, value: Any, index: int, seen: set[str]) -> Rule | None:
        where = f"rules[{index}]"
        self.rule_id = None
        if not isinstance(value, dict):
            self.fail(where, "must be a mapping")
            return None
        self.rule_identity(value.get("id"), where, seen)
        entry = self.mapping(value, where, _RULE_KEYS)
        self.description(entry.get("description"), f"{where}.description")
        effect = entry.get("effect")
        if effect not in EFFECTS:
            self.fail(f"{where}.effect", f"must be one of {', '.join(EFFECTS)}")
        subjects = self.subjects(entry["subjects"], f"{where}.subjects") if "subjects" in entry else None
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
        approval = self.approval(entry.get("approval"), f"{where}.approval", effect)
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
            expression_text=when["expression"] if expression is not None else None,
            limits=limits,
            denied_fields=tuple(denied),
            denies_field=GlobSet.of(denied),
            rate_limits=rate_limits,
            approval=approval,
        )


def _balanced_brackets(glob: str) -> bool:
    depth = 0
    for char in glob:
        depth += {"[": 1, "]": -1}.get(char, 0)
        if depth not in (0, 1):
            return False
    return depth == 0


def hard_cap_setting(dimension: str) -> str:
    """The setting that holds the server's hard cap on a limit dimension (GQLGOV_CAP_MAX_DEPTH)."""
    return f"GQLGOV_CAP_{dimension.upper()}"


def compile_policy(
    document: Mapping[str, Any], *, schema: SchemaBundle | None = None, caps: Limits | None = None
) -> CompiledPolicy:
    """The compiled policy; raises PolicyValidationError listing every problem found.

    References to operations or fields the schema lacks are not errors: see stale_references.
    With a schema, the operation index memoises that schema's operations only. With `caps` (the
    server's hard caps), a limit above its cap is an error naming it; a stored version compiled
    for a check is given none, so lowering a cap never breaks the active policy (checks clamp).
    """
    compiler = _Compiler(caps)
    top = compiler.mapping(document, "", _TOP_KEYS)
    compiler.description(top.get("description"), "description")
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
    contact = compiler.contact(top.get("contact"))
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
        contact=contact,
    )
