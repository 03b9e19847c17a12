"""The simulator: what would the pre-check answer? Calls the pure engine directly.

Nothing is recorded (no decision row, no audit event, no rate-limit budget consumed), so
editors can try drafts freely. Rate limits are therefore not simulated.
"""

from datetime import UTC
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from agents.models import Principal
from gqlgov import roles
from gqlgov.console.common import render_page
from gqlgov.console.forms import TIMEZONES, json_object_field, parse_json_object
from policies import engine
from policies.checks.caches import compiled_policy, schema_bundle
from policies.models import PolicyVersion, Schema
from policies.services import drafts


class SimulatorForm(forms.Form):
    schema = forms.ChoiceField()
    version = forms.ChoiceField(
        label="Policy version",
        initial="active",
        help_text="The active version, the open draft or any earlier version.",
    )
    agent = forms.ChoiceField(required=False, help_text="A registered agent, or leave empty and type a subject.")
    subject = json_object_field(
        "Typed subject",
        'Instead of an agent: {"name": "x", "kind": "ai", "groups": ["support"], '
        '"attributes": {"team": "support"}, "claims": {"sub": "..."}}',
    )
    query = forms.CharField(
        label="GraphQL document",
        widget=forms.Textarea(
            attrs={
                "rows": 8,
                "spellcheck": "false",
                "data-graphql-editor": "true",
                "data-schema-source": "#id_schema",
                "data-schema-explorer": "#schema-explorer",
            }
        ),
        help_text="Ctrl+Space completes fields and arguments from the schema.",
    )
    operation_name = forms.CharField(required=False, label="Operation name")
    variables = json_object_field("Variables", "A JSON object.")
    context = json_object_field("Context", "What the agent would send as context (untrusted).")
    ip = forms.GenericIPAddressField(label="Client IP", initial="127.0.0.1")
    at = forms.DateTimeField(
        label="Time",
        required=False,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="Empty: now.",
    )
    tz = forms.ChoiceField(label="Time zone of that time", choices=[(tz, tz) for tz in TIMEZONES])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        schemas = list(Schema.objects.select_related("active_policy").order_by("name"))
        self.fields["schema"].choices = [(s.name, s.name) for s in schemas]
        self.version_choices = {s.name: version_choices(s) for s in schemas}
        chosen = (self.data.get("schema") if self.is_bound else self.initial.get("schema")) or ""
        if chosen not in self.version_choices and schemas:
            chosen = schemas[0].name
        self.fields["version"].choices = self.version_choices.get(chosen, [("active", "active")])
        # console-widgets.js swaps the options when another schema is picked.
        self.fields["version"].widget.attrs.update(
            {"data-options": "#simulator-versions", "data-options-by": "#id_schema"}
        )
        self.fields["query"].widget.attrs["data-schema-url-template"] = reverse(
            "admin:gqlgov_schema_sdl", args=["__schema__"]
        )
        subject = self.fields["subject"].widget.attrs
        subject.update({"data-subject-json": "true", "data-subject-kinds": ",".join(Principal.Kind.values)})
        self.fields["agent"].choices = [("", "— typed subject —")] + [
            (p.name, f"{p.name} ({p.kind}{', suspended' if not p.is_active else ''})")
            for p in Principal.objects.order_by("name")
        ]

    def clean_variables(self) -> dict[str, Any]:
        return parse_json_object(self, "variables")

    def clean_context(self) -> dict[str, Any]:
        return parse_json_object(self, "context")

    def clean_subject(self) -> dict[str, Any]:
        subject = parse_json_object(self, "subject")
        problems = typed_subject_problems(subject) if subject else []
        if problems:
            raise forms.ValidationError(problems)
        return subject

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not data.get("agent") and not data.get("subject") and "subject" not in self.errors:
            self.add_error("agent", "Choose an agent or type a subject.")
        return data


def version_choices(schema: Schema) -> list[tuple[str, str]]:
    """The versions the simulator offers for a schema: the active one, the open draft, then each by number."""
    active = schema.active_policy
    choices = [("active", f"active (v{active.number})" if active else "active (none yet)")]
    draft = drafts.open_version(schema)
    if draft is not None:
        choices.append(("draft", f"open draft (v{draft.number}, {draft.get_status_display().lower()})"))
    for number, status in schema.policy_versions.order_by("-number").values_list("number", "status"):
        choices.append((str(number), f"v{number} ({PolicyVersion.Status(status).label.lower()})"))
    return choices
_SUBJECT_KEYS = ("name", "kind", "groups", "attributes", "claims")


def _json_kind(value: Any) -> str:
    """How JSON names the type of `value`, for messages: 5 is "a number", [] "a list"."""
    for kind, name in ((bool, "true/false"), (int | float, "a number"), (str, "a string"), (list, "a list"),
                       (dict, "an object")):
        if isinstance(value, kind):
            return name
    return "null"


def typed_subject_problems(subject: dict[str, Any]) -> list[str]:
    """Why a typed subject is not one the check could see (the same shape as a registered agent),
    one message per key at fault; empty when it is fine."""
    problems = [f"Unknown key {key!r}: use {', '.join(_SUBJECT_KEYS)}." for key in subject if key not in _SUBJECT_KEYS]
    name = subject.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append(f'"name" must be a non-empty string, not {_json_kind(name)}.')
    kinds = [kind.value for kind in Principal.Kind]
    if "kind" in subject and subject["kind"] not in kinds:
        problems.append(f'"kind" must be one of {", ".join(kinds)}.')
    groups = subject.get("groups", [])
    if not isinstance(groups, list) or not all(isinstance(group, str) and group for group in groups):
        problems.append('"groups" must be a list of non-empty strings, e.g. ["support"].')
    for key in ("attributes", "claims"):
        if not isinstance(subject.get(key, {}), dict):
            problems.append(f'"{key}" must be an object, not {_json_kind(subject[key])}.')
    return problems


def _subject(data: dict[str, Any]) -> Any:
    if data.get("agent"):
        principal = Principal.objects.get(name=data["agent"])
        return engine.Subject(
            name=principal.name,
            kind=principal.kind,
            groups=tuple(principal.groups),
            attributes=dict(principal.attributes),
            claims={},
        )
    typed = data["subject"]  # checked by typed_subject_problems
    return engine.Subject(
        name=typed["name"],
        kind=typed.get("kind", "ai"),
        groups=tuple(typed.get("groups", [])),
        attributes=dict(typed.get("attributes", {})),
        claims=dict(typed.get("claims", {})),
    )


def _policy_version(schema: Schema, choice: str) -> PolicyVersion | None:
    choice = (choice or "active").strip().lower()
    if choice == "active":
        return schema.active_policy
    if choice == "draft":
        return drafts.open_version(schema)
    return schema.policy_versions.filter(number=int(choice)).first() if choice.isdigit() else None


def simulate(schema: Schema, version: PolicyVersion, data: dict[str, Any]) -> dict[str, Any]:
    """The engine's decision for the form's request, as the check would compute it (minus rate limits)."""
    bundle = schema_bundle(schema.latest_version)
    if version.status == PolicyVersion.Status.APPROVED:
        policy = compiled_policy(version, bundle)
    else:  # drafts change; compile the current text, uncached
        policy = engine.compile_policy(version.document, schema=bundle)
    caps = engine.Limits(**settings.GQLGOV_HARD_CAPS)
    analysis = engine.analyze(
        bundle,
        data["query"],
        operation_name=data.get("operation_name") or None,
        variables=data.get("variables") or {},
        limits=engine.AnalysisLimits(max_document_bytes=settings.GQLGOV_MAX_DOCUMENT_BYTES, caps=caps),
        default_list_size=settings.GQLGOV_DEFAULT_LIST_SIZE,
        mutation_base_cost=settings.GQLGOV_MUTATION_BASE_COST,
    )
    at = data.get("at")
    if at is None:
        now = timezone.now()
    else:
        now = (at.replace(tzinfo=None).replace(tzinfo=ZoneInfo(data.get("tz") or "UTC"))).astimezone(UTC)
    decision = engine.decide(
        policy,
        analysis,
        subject=_subject(data),
        request=engine.RequestContext(ip=data["ip"], now=now, context=data.get("context") or {}),
        caps=caps,
    )
    result = decision.as_dict()
    # A deny names the rule behind its first violation; an allow or pending answer is decided
    # by the rules that admitted the root fields.
    result["decided_by"] = decision.deciding_rule or ", ".join(decision.admitting_rules)
    return {**result, "at": now}


@roles.requires(roles.VIEW)
def simulator(request):
    """GET with parameters pre-fills the form (links from operation pages); POST simulates."""
    if request.method == "POST":
        form = SimulatorForm(request.POST)
    else:
        initial = {
            key: request.GET[key] for key in ("schema", "version", "agent", "query", "variables") if key in request.GET
        }
        form = SimulatorForm(initial={"version": "active", "ip": "127.0.0.1", "tz": "UTC", **initial})
    result = error = version = None
    if request.method == "POST" and form.is_valid():
        schema = Schema.objects.select_related("latest_version", "active_policy").get(name=form.cleaned_data["schema"])
        version = _policy_version(schema, form.cleaned_data["version"])
        if schema.latest_version is None:
            error = f"{schema.name} has no schema version."
        elif version is None:
            form.add_error("version", f'{schema.name} has no such policy version ("active", "draft" or a number).')
        else:
            try:
                result = simulate(schema, version, form.cleaned_data)
            except engine.PolicyValidationError as exc:
                error = f"Policy v{version.number} does not compile: " + "; ".join(
                    f"{e.get('rule') or '-'} {e.get('field')}: {e.get('message')}" for e in exc.errors[:10]
                )
    return render_page(
        request,
        "gqlgov/simulator.html",
        "Simulator",
        {
            "form": form,
            "result": result,
            "error": error,
            "version": version,
            "version_choices": form.version_choices,
            "crumbs": [("Simulator", None)],
        },
    )
