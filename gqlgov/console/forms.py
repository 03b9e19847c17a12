"""Forms of the custom pages. The rule form maps to and from one rule of the policy-file format."""

import ipaddress
import json
import re
from typing import Any
from zoneinfo import available_timezones

from django import forms

from agents.models import Principal
from policies.engine.compiler import MAX_DESCRIPTION_CHARS
from policies.engine.limits import DIMENSIONS, LIMIT_LABELS
from policies.engine.policy import DAYS, EFFECTS, PERIOD_SECONDS

RATE_LIMIT_ROWS = 3
_CLOCK = re.compile(r"([01]\d|2[0-3]):[0-5]\d")
_RULE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}")
# The IANA areas of canonical "Area/City" zone names; the rest of the database is legacy aliases
# (US/Eastern, Etc/GMT+5) and build artefacts (Factory, localtime, posixrules).
_TZ_AREAS = frozenset(
    {"Africa", "America", "Antarctica", "Arctic", "Asia", "Atlantic", "Australia", "Europe", "Indian", "Pacific"}
)


def area_city_timezones() -> list[str]:
    """UTC first, then every Area/City zone name of the system's tz database, sorted."""
    return ["UTC", *sorted(tz for tz in available_timezones() if tz.split("/", 1)[0] in _TZ_AREAS and "/" in tz)]


TIMEZONES = area_city_timezones()
_EFFECT_LABELS = {"allow": "Allow", "deny": "Deny", "require_approval": "Require approval"}


def _lines(text: str) -> list[str]:
    return [line.strip() for line in (text or "").replace(",", "\n").splitlines() if line.strip()]


def _with_current(choices: list[str], current: list[str]) -> list[tuple[str, str]]:
    """Choices plus any value already in the rule, so editing never silently drops one."""
    return [(value, value) for value in sorted({*choices, *current})]


class CoordinatesField(forms.Field):
    """A list of `Type.field` coordinates, each one of `allowed`. Checked against a set: a GitHub-sized
    schema offers ~20,000, which as Django choices would be normalised and scanned on every request."""

    widget = forms.MultipleHiddenInput

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.allowed: frozenset[str] = frozenset()

    def to_python(self, value: Any) -> list[str]:
        return [str(item) for item in value] if value else []

    def validate(self, value: list[str]) -> None:
        super().validate(value)
        unknown = [item for item in value if item not in self.allowed]
        if unknown:
            raise forms.ValidationError(
                "Not a field the rule's operations reach: %(fields)s.", params={"fields": ", ".join(unknown[:5])}
            )


class RuleForm(forms.Form):
    """One rule; subjects and field denies are chosen from lists (agents, groups, reachable fields)."""

    id = forms.CharField(
        label="Rule id",
        max_length=100,
        help_text="Stable; shown in reasons and the audit trail. Letters, digits, _ - . :",
    )
    description = forms.CharField(
        required=False, max_length=MAX_DESCRIPTION_CHARS, widget=forms.TextInput(attrs={"size": 80})
    )
    effect = forms.ChoiceField(choices=[(e, _EFFECT_LABELS[e]) for e in EFFECTS], widget=forms.RadioSelect)
    agents = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "gg-pick"}),
        help_text="Tick every agent the rule is for.",
    )
    kinds = forms.MultipleChoiceField(
        required=False, choices=Principal.Kind.choices, widget=forms.CheckboxSelectMultiple
    )
    groups = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple(attrs={"class": "gg-pick"}), help_text="Groups agents have."
    )
    extra_groups = forms.CharField(
        required=False, label="Other groups", help_text="Comma-separated groups no agent has yet."
    )
    operations = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "data-autogrow": "true", "spellcheck": "false"}),
        help_text="One operation or glob per line, e.g. mutation.refundOrder or query.orders*.",
    )
    hours_from = forms.CharField(
        required=False,
        label="From",
        max_length=5,
        widget=forms.TextInput(attrs={"placeholder": "HH:MM", "size": 6, "inputmode": "numeric"}),
    )
    hours_to = forms.CharField(
        required=False,
        label="To",
        max_length=5,
        widget=forms.TextInput(attrs={"placeholder": "HH:MM", "size": 6, "inputmode": "numeric"}),
    )
    days = forms.MultipleChoiceField(
        required=False,
        choices=[(d, d.capitalize()) for d in DAYS],
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every day.",
    )
    tz = forms.ChoiceField(label="Time zone", choices=[(tz, tz) for tz in TIMEZONES], initial="UTC")
    source_ips = forms.CharField(
        required=False,
        label="Source IP ranges",
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="CIDR ranges, one per line, e.g. 10.0.0.0/8.",
    )
    expression = forms.CharField(
        required=False,
        label="CEL expression",
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Over agent, claims, request, args, context; e.g. args.amount <= 100.",
    )
    # The picker (static/gqlgov/field-picker.js) edits these hidden inputs; a GitHub-sized schema
    # reaches tens of thousands of fields, so only the chosen ones are in the page's markup.
    field_denies = CoordinatesField(
        required=False,
        label="Denied fields",
        help_text="Fields of the types the rule's operations reach; a call selecting one is denied.",
    )

    def __init__(
        self,
        *args: Any,
        agent_names: list[str],
        group_names: list[str],
        coordinates: list[str],
        current: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        current = current or {}
        subjects = current.get("subjects") or {}
        self.fields["agents"].choices = _with_current(agent_names, list(subjects.get("agents") or []))
        self.fields["groups"].choices = _with_current(group_names, list(subjects.get("groups") or []))
        denied = list((current.get("fields") or {}).get("deny") or [])
        self.fields["field_denies"].allowed = frozenset({*coordinates, *denied})
        current_tz = str(((current.get("when") or {}).get("hours") or {}).get("tz") or "UTC")
        if current_tz not in TIMEZONES:  # a legacy name already in the rule stays choosable
            self.fields["tz"].choices = [(current_tz, current_tz), *self.fields["tz"].choices]
        operations = self.data.get("operations") if self.is_bound else "\n".join(current.get("operations") or [])
        self.fields["operations"].widget.attrs["rows"] = max(3, len(str(operations or "").splitlines()) + 1)
        for dimension in DIMENSIONS:
            self.fields[dimension] = forms.IntegerField(
                required=False, min_value=1, label=LIMIT_LABELS.get(dimension, dimension)
            )
        for row in range(RATE_LIMIT_ROWS):
            self.fields[f"rl{row}_kind"] = forms.ChoiceField(
                required=False, label="Kind", choices=[("requests", "requests"), ("cost", "cost units")]
            )
            self.fields[f"rl{row}_amount"] = forms.IntegerField(required=False, min_value=1, label="Amount")
            self.fields[f"rl{row}_per"] = forms.ChoiceField(
                required=False, label="Per", choices=[(p, p) for p in PERIOD_SECONDS], initial="minute"
            )
            self.fields[f"rl{row}_burst"] = forms.IntegerField(required=False, min_value=1, label="Burst")

    @property
    def limit_fields(self):
        return [self[d] for d in DIMENSIONS]

    @property
    def rate_limit_rows(self):
        return [
            [self[f"rl{row}_{part}"] for part in ("kind", "amount", "per", "burst")] for row in range(RATE_LIMIT_ROWS)
        ]

    @classmethod
    def initial_from_rule(cls, rule: dict[str, Any]) -> dict[str, Any]:
        subjects = rule.get("subjects") or {}
        when = rule.get("when") or {}
        hours = when.get("hours") or {}
        initial: dict[str, Any] = {
            "id": rule.get("id", ""),
            "description": rule.get("description", ""),
            "effect": rule.get("effect", "allow"),
            "agents": list(subjects.get("agents") or []),
            "kinds": list(subjects.get("kinds") or []),
            "groups": list(subjects.get("groups") or []),
            "operations": "\n".join(rule.get("operations") or []),
            "hours_from": hours.get("from", ""),
            "hours_to": hours.get("to", ""),
            "days": list(hours.get("days") or []),
            "tz": hours.get("tz", "UTC"),
            "source_ips": "\n".join(when.get("source_ips") or []),
            "expression": when.get("expression", ""),
            "field_denies": list((rule.get("fields") or {}).get("deny") or []),
        }
        initial.update({d: v for d, v in (rule.get("limits") or {}).items()})
        for row, entry in enumerate((rule.get("rate_limits") or [])[:RATE_LIMIT_ROWS]):
            kind = "cost" if "cost" in entry else "requests"
            initial.update(
                {
                    f"rl{row}_kind": kind,
                    f"rl{row}_amount": entry.get(kind),
                    f"rl{row}_per": entry.get("per", "minute"),
                    f"rl{row}_burst": entry.get("burst"),
                }
            )
        return initial

    def clean_id(self) -> str:
        value = self.cleaned_data["id"].strip()
        if not _RULE_ID.fullmatch(value):
            raise forms.ValidationError("Use letters, digits, '_', '-', '.', ':' (starting with a letter or digit).")
        return value

    def clean_operations(self) -> list[str]:
        globs = _lines(self.cleaned_data["operations"])
        if not globs:
            raise forms.ValidationError("Name at least one operation.")
        return globs

    def clean_source_ips(self) -> list[str]:
        networks = []
        for text in _lines(self.cleaned_data.get("source_ips", "")):
            try:
                networks.append(str(ipaddress.ip_network(text, strict=False)))
            except ValueError:
                raise forms.ValidationError(f"{text!r} is not an IP range like 10.0.0.0/8 or 2001:db8::/32.") from None
        return networks

    def _clock(self, name: str) -> str:
        value = (self.cleaned_data.get(name) or "").strip()
        if value and not _CLOCK.fullmatch(value):
            raise forms.ValidationError("Write a 24-hour time as HH:MM, e.g. 08:00.")
        return value

    def clean_hours_from(self) -> str:
        return self._clock("hours_from")

    def clean_hours_to(self) -> str:
        return self._clock("hours_to")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, end = data.get("hours_from"), data.get("hours_to")
        if bool(start) != bool(end) and "hours_from" not in self.errors and "hours_to" not in self.errors:
            self.add_error("hours_to" if start else "hours_from", "Give both ends of the time window, or neither.")
        elif start and end and start == end:
            self.add_error("hours_to", "The window must not start and end at the same time.")
        for row in range(RATE_LIMIT_ROWS):
            if data.get(f"rl{row}_burst") and not data.get(f"rl{row}_amount"):
                self.add_error(f"rl{row}_amount", "Give the amount this burst belongs to.")
        return data

    def to_rule(self) -> dict[str, Any]:
        """The rule in the policy-file format, leaving out everything left empty."""
        data = self.cleaned_data
        rule: dict[str, Any] = {"id": data["id"]}
        if data.get("description"):
            rule["description"] = data["description"]
        rule["effect"] = data["effect"]
        groups = sorted({*data.get("groups", []), *_lines(data.get("extra_groups", ""))})
        subjects = {
            key: value
            for key, value in (
                ("agents", sorted(data.get("agents") or [])),
                ("kinds", sorted(data.get("kinds") or [])),
                ("groups", groups),
            )
            if value
        }
        if subjects:
            rule["subjects"] = subjects
        rule["operations"] = data["operations"]
        when: dict[str, Any] = {}
        if data.get("hours_from") and data.get("hours_to"):
            hours: dict[str, Any] = {"from": data["hours_from"], "to": data["hours_to"]}
            if data.get("days"):
                hours["days"] = [d for d in DAYS if d in data["days"]]
            hours["tz"] = data.get("tz") or "UTC"
            when["hours"] = hours
        if data.get("source_ips"):
            when["source_ips"] = data["source_ips"]
        if (data.get("expression") or "").strip():
            when["expression"] = data["expression"].strip()
        if when:
            rule["when"] = when
        limits = {d: data[d] for d in DIMENSIONS if data.get(d)}
        if limits:
            rule["limits"] = limits
        if data.get("field_denies"):
            rule["fields"] = {"deny": sorted(data["field_denies"])}
        rate_limits = []
        for row in range(RATE_LIMIT_ROWS):
            amount = data.get(f"rl{row}_amount")
            if amount:
                entry: dict[str, Any] = {
                    data.get(f"rl{row}_kind") or "requests": amount,
                    "per": data.get(f"rl{row}_per") or "minute",
                }
                if data.get(f"rl{row}_burst"):
                    entry["burst"] = data[f"rl{row}_burst"]
                rate_limits.append(entry)
        if rate_limits:
            rule["rate_limits"] = rate_limits
        return rule

    # The engine reports problems by path ("rules[3].when.expression"); show each next to its field.
    _ENGINE_FIELDS = (
        ("when.hours.from", "hours_from"),
        ("when.hours.to", "hours_to"),
        ("when.hours.days", "days"),
        ("when.hours.tz", "tz"),
        ("when.hours", "hours_from"),
        ("when.source_ips", "source_ips"),
        ("when.expression", "expression"),
        ("fields.deny", "field_denies"),
        ("subjects", "agents"),
        ("operations", "operations"),
        ("effect", "effect"),
        ("id", "id"),
        ("description", "description"),
    )

    def add_engine_errors(self, errors: list[dict[str, Any]], index: int | None) -> None:
        """Places the compiler's errors next to the form fields they concern; the rest on top."""
        prefix = f"rules[{index}]." if index is not None else None
        for error in errors:
            where, message = str(error.get("field") or ""), str(error.get("message") or "")
            if prefix and where.startswith(prefix):
                field = self._engine_field(where[len(prefix) :])
                if field:
                    self.add_error(field, message)
                    continue
                self.add_error(None, f"{where[len(prefix) :]}: {message}")
            else:
                rule = error.get("rule")
                self.add_error(None, f"{'Rule ' + rule + ', ' if rule else ''}{where or 'policy'}: {message}")

    def _engine_field(self, where: str) -> str | None:
        for prefix, field in self._ENGINE_FIELDS:
            if where == prefix or where.startswith(prefix + ".") or where.startswith(prefix + "["):
                return field
        match = re.match(r"limits\.(\w+)", where)
        if match and match[1] in self.fields:
            return match[1]
        match = re.match(r"rate_limits\[(\d+)\](\.burst)?", where)
        if match and int(match[1]) < RATE_LIMIT_ROWS:
            return f"rl{match[1]}_{'burst' if match[2] else 'amount'}"
        return None


class SchemaRegisterForm(forms.Form):
    name = forms.SlugField(max_length=100, help_text="The schema's name, e.g. shop.")
    sdl = forms.CharField(
        label="SDL",
        widget=forms.Textarea(attrs={"rows": 14, "cols": 90}),
        help_text="The whole schema in GraphQL SDL. Identical SDL is a no-op.",
    )


class ReviewForm(forms.Form):
    comment = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        help_text="Required when rejecting; the author reads it.",
    )


def json_object_field(label: str, help_text: str = "") -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        help_text=help_text,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60, "spellcheck": "false"}),
    )


def parse_json_object(form: forms.Form, name: str) -> dict[str, Any]:
    text = (form.cleaned_data.get(name) or "").strip()
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise forms.ValidationError(f"Not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.") from None
    if not isinstance(value, dict):
        raise forms.ValidationError('Write a JSON object, e.g. {"id": "1"}.')
    return value
