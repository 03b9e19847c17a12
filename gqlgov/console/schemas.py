"""Schema pages and the operation-centric rule editor.

Editing always goes through policies.services.drafts: the first edit copies the active version into a
draft; the active version is never changed in place.
"""

import json
from typing import Any

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLUnionType,
    get_named_type,
    is_non_null_type,
)

from agents.audit import actor_for_user
from agents.models import Principal
from gqlgov import roles
from gqlgov.console import access
from gqlgov.console.common import render_page, report, schema_or_404
from gqlgov.console.editing import field_tree
from gqlgov.console.forms import RuleForm, SchemaRegisterForm
from gqlgov.console.lockstep import version_lockstep
from gqlgov.errors import ApiError
from policies import engine
from policies.checks.caches import schema_bundle
from policies.models import PolicyVersion, Schema, SchemaVersion
from policies.selectors import policy_coverage, policy_warnings
from policies.services import PolicyInvalid, drafts, schema_register

# Field denies offered per operation; an operation of a GitHub-sized schema (1,600 types) reaches
# about 20,000 fields: all are offered (the picker renders only what is expanded or found).
MAX_COORDINATES = 100_000
MAX_OPERATION_ROWS = 500


# --- Reading the schema -------------------------------------------------------------------


def _root_field(bundle: Any, operation: str):
    kind, _, name = operation.partition(".")
    root = {
        "query": bundle.schema.query_type,
        "mutation": bundle.schema.mutation_type,
        "subscription": bundle.schema.subscription_type,
    }.get(kind)
    if root is None or name not in root.fields:
        return None
    return root.fields[name]


def reachable_coordinates(bundle: Any, operations: list[str]) -> list[str]:
    """Every `Type.field` of the object and interface types the operations' results can reach."""
    fields = [field for field in (_root_field(bundle, operation) for operation in operations) if field is not None]
    seen: set[str] = set()
    coordinates: list[str] = []
    pending = [get_named_type(field.type) for field in fields]
    while pending and len(coordinates) < MAX_COORDINATES:
        named = pending.pop()
        if named.name in seen:
            continue
        seen.add(named.name)
        if isinstance(named, GraphQLUnionType):
            pending.extend(named.types)
            continue
        if isinstance(named, GraphQLInterfaceType):
            pending.extend(bundle.schema.get_possible_types(named))
        if isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
            for name, child in named.fields.items():
                coordinates.append(f"{named.name}.{name}")
                pending.append(get_named_type(child.type))
    return sorted(coordinates)


def _sample_value(type_: Any) -> Any:
    named = get_named_type(type_)
    if isinstance(named, GraphQLEnumType):
        return next(iter(named.values), None)
    if isinstance(named, GraphQLInputObjectType):
        return {name: _sample_value(f.type) for name, f in named.fields.items() if is_non_null_type(f.type)}
    return {"Int": 1, "Float": 1.0, "Boolean": True}.get(named.name, "1")


def sample_request(bundle: Any, operation: str) -> tuple[str, dict[str, Any]]:
    """A small document calling the operation with its required arguments as variables."""
    field = _root_field(bundle, operation)
    kind, _, name = operation.partition(".")
    if field is None:
        return "", {}
    required = [(arg_name, arg) for arg_name, arg in field.args.items() if is_non_null_type(arg.type)]
    definitions = ", ".join(f"${arg_name}: {arg.type}" for arg_name, arg in required)
    arguments = ", ".join(f"{arg_name}: ${arg_name}" for arg_name, _ in required)
    named = get_named_type(field.type)
    selection = ""
    if isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
        selection = " { id }" if "id" in named.fields else " { __typename }"
    elif isinstance(named, GraphQLUnionType):
        selection = " { __typename }"
    operation_name = name[:1].upper() + name[1:]
    header = f"{kind} {operation_name}" + (f"({definitions})" if definitions else "")
    call = name + (f"({arguments})" if arguments else "")
    return f"{header} {{\n  {call}{selection}\n}}", {arg_name: _sample_value(arg.type) for arg_name, arg in required}


def working_document(schema: Schema) -> tuple[dict[str, Any], PolicyVersion | None]:
    """The document edits apply to (the open draft's, else the active one's) and that open version."""
    current = drafts.open_version(schema)
    if current is not None:
        return current.document, current
    return (schema.active_policy.document if schema.active_policy else drafts.empty_document(schema)), None


def _agents() -> list[Principal]:
    return list(Principal.objects.filter(status=Principal.Status.ACTIVE).order_by("name"))


def _group_names(agents: list[Principal]) -> list[str]:
    return sorted({group for agent in agents for group in agent.groups})


# --- Pages --------------------------------------------------------------------------------


@roles.requires(roles.VIEW)
def schema_list(request):
    schemas = Schema.objects.select_related("latest_version", "active_policy").all()
    rows = [{"schema": s, "open": drafts.open_version(s)} for s in schemas]
    return render_page(
        request,
        "gqlgov/schemas/list.html",
        "Schemas",
        {
            "rows": rows,
            "register_form": SchemaRegisterForm(),
            "crumbs": [("Schemas", None)],
        },
    )


@roles.requires(roles.EDIT_POLICY)
def schema_register_view(request):
    form = SchemaRegisterForm(request.POST or None, initial={"name": request.GET.get("name", "")})
    if request.method == "POST" and form.is_valid():
        try:
            version, created = schema_register(
                actor=actor_for_user(request.user),
                name=form.cleaned_data["name"],
                sdl=form.cleaned_data["sdl"],
            )
        except ApiError as exc:
            form.add_error("sdl", exc.message)
        else:
            if created:
                messages.success(request, f"Registered {version.schema.name} schema version {version.number}.")
            else:
                messages.info(request, f"This SDL is already {version.schema.name} version {version.number}.")
            return redirect("admin:gqlgov_schema", version.schema.name)
    return render_page(
        request,
        "gqlgov/schemas/register.html",
        "Register a schema version",
        {
            "form": form,
            "crumbs": [("Schemas", reverse("admin:gqlgov_schemas")), ("Register", None)],
        },
    )


@roles.requires(roles.VIEW)
def schema_detail(request, name: str):
    schema = schema_or_404(name)
    latest = schema.latest_version
    coverage = policy_coverage(schema.active_policy, latest) if latest else None
    document, open_version = working_document(schema)
    active_document = schema.active_policy.document if schema.active_policy else None
    agents = _agents()
    query = request.GET.get("q", "").strip()
    operations = [op for op in (latest.operations if latest else []) if query.lower() in op.lower()]
    rows = []
    for operation in operations[:MAX_OPERATION_ROWS]:
        governing = access.governing_rules(active_document, operation)
        rows.append(
            {
                "operation": operation,
                "rules": governing,
                "agents": access.allowed_agents(active_document, agents, operation),
                "draft_differs": open_version is not None and access.governing_rules(document, operation) != governing,
            }
        )
    versions = list(schema.versions.order_by("-number"))
    return render_page(
        request,
        "gqlgov/schemas/detail.html",
        f"Schema {schema.name}",
        {
            "schema": schema,
            "latest": latest,
            "coverage": coverage,
            "open_version": open_version,
            "rows": rows,
            "truncated": len(operations) > MAX_OPERATION_ROWS,
            "q": query,
            "versions": versions,
            "policies": schema.policy_versions.select_related("author", "approver", "schema_version")[:20],
            "crumbs": [("Schemas", reverse("admin:gqlgov_schemas")), (schema.name, None)],
        },
    )


def _version_or_404(schema: Schema, number: Any) -> SchemaVersion:
    try:
        return schema.versions.get(number=int(number))
    except (SchemaVersion.DoesNotExist, TypeError, ValueError):
        raise Http404("No such schema version.") from None


@roles.requires(roles.VIEW)
def schema_version(request, name: str, number: int):
    schema = schema_or_404(name)
    version = _version_or_404(schema, number)
    return render_page(
        request,
        "gqlgov/schemas/version.html",
        f"{schema.name} schema v{version.number}",
        {
            "schema": schema,
            "version": version,
            "diff": version.diff or {},
            "lockstep": version_lockstep(schema, version),
            "crumbs": [
                ("Schemas", reverse("admin:gqlgov_schemas")),
                (schema.name, reverse("admin:gqlgov_schema", args=[schema.name])),
                (f"v{version.number}", None),
            ],
        },
    )


@roles.requires(roles.VIEW)
def schema_diff(request, name: str):
    schema = schema_or_404(name)
    numbers = list(schema.versions.order_by("number").values_list("number", flat=True))
    if not numbers:
        raise Http404("The schema has no versions.")
    old = _version_or_404(schema, request.GET.get("from") or numbers[max(len(numbers) - 2, 0)])
    new = _version_or_404(schema, request.GET.get("to") or numbers[-1])
    diff = engine.diff_schemas(schema_bundle(old), schema_bundle(new)).as_dict()
    return render_page(
        request,
        "gqlgov/schemas/diff.html",
        f"{schema.name}: v{old.number} → v{new.number}",
        {
            "schema": schema,
            "old": old,
            "new": new,
            "diff": diff,
            "numbers": numbers,
            "crumbs": [
                ("Schemas", reverse("admin:gqlgov_schemas")),
                (schema.name, reverse("admin:gqlgov_schema", args=[schema.name])),
                ("Diff", None),
            ],
        },
    )


def _operation_context(schema: Schema, operation: str) -> dict[str, Any]:
    if not schema.latest_version or operation not in schema.latest_version.operations:
        raise Http404("The schema's latest version has no such operation.")
    bundle = schema_bundle(schema.latest_version)
    field = _root_field(bundle, operation)
    return {
        "bundle": bundle,
        "field": field,
        "return_type": str(field.type) if field else "",
        "arguments": [(n, str(a.type)) for n, a in field.args.items()] if field else [],
    }


@roles.requires(roles.VIEW)
def operation_detail(request, name: str, operation: str):
    schema = schema_or_404(name)
    context = _operation_context(schema, operation)
    document, open_version = working_document(schema)
    active_document = schema.active_policy.document if schema.active_policy else None
    diff = drafts.rule_diff(active_document, document) if open_version else None
    status = {row["id"]: row["status"] for row in diff["rules"]} if diff else {}
    rules = [
        {"rule": rule, "status": status.get(str(rule.get("id")), "unchanged")}
        for rule in access.governing_rules(document, operation)
    ]
    removed = [
        row["before"]
        for row in (diff["rules"] if diff else [])
        if row["status"] == "removed" and row["before"] in access.governing_rules(active_document, operation)
    ]
    agents = _agents()
    query, variables = sample_request(context["bundle"], operation)
    simulate = (
        reverse("admin:gqlgov_simulator")
        + "?"
        + _urlencode(
            {
                "schema": schema.name,
                "version": "draft" if open_version else "active",
                "query": query,
                "variables": json.dumps(variables, indent=2) if variables else "",
            }
        )
    )
    return render_page(
        request,
        "gqlgov/schemas/operation.html",
        operation,
        {
            "schema": schema,
            "operation": operation,
            **context,
            "rules": rules,
            "removed": removed,
            "open_version": open_version,
            "agents_allowed": access.allowed_agents(document, agents, operation),
            "simulate_url": simulate,
            "crumbs": [
                ("Schemas", reverse("admin:gqlgov_schemas")),
                (schema.name, reverse("admin:gqlgov_schema", args=[schema.name])),
                (operation, None),
            ],
        },
    )


def _urlencode(params: dict[str, str]) -> str:
    from urllib.parse import urlencode

    return urlencode({k: v for k, v in params.items() if v})


def _rule_form_page(request, schema: Schema, operation: str, existing: dict[str, Any] | None):
    """GET: the form (pre-filled when editing). POST: saves to the draft, or shows what is wrong,
    keeping everything typed."""
    context = _operation_context(schema, operation)
    document, open_version = working_document(schema)
    agents = _agents()
    also = [
        op
        for op in (schema.latest_version.operations if schema.latest_version else [])
        if op != operation and existing and access.governing_rules({"rules": [existing]}, op)
    ]
    coordinates = reachable_coordinates(context["bundle"], [operation, *also])
    form_args = {
        "agent_names": [a.name for a in agents],
        "group_names": _group_names(agents),
        "coordinates": coordinates,
        "current": existing,
    }
    if request.method == "POST":
        roles.require(request.user, roles.EDIT_POLICY)
        form = RuleForm(request.POST, **form_args)
        if _saved(request, schema, form, document, existing):
            return redirect("admin:gqlgov_operation", schema.name, operation)
    else:
        initial = (
            RuleForm.initial_from_rule(existing)
            if existing
            else {
                "id": _suggest_id(document, operation),
                "effect": "allow",
                "operations": operation,
                "tz": "UTC",
            }
        )
        form = RuleForm(initial=initial, **form_args)
    title = f"Edit rule {existing['id']}" if existing else f"Add a rule for {operation}"
    return render_page(
        request,
        "gqlgov/schemas/rule_form.html",
        title,
        {
            "schema": schema,
            "operation": operation,
            "form": form,
            "existing": existing,
            "open_version": open_version,
            "also_governs": also[:50],
            "also_count": len(also),
            "field_tree": field_tree(coordinates),
            **context,
            "crumbs": [
                ("Schemas", reverse("admin:gqlgov_schemas")),
                (schema.name, reverse("admin:gqlgov_schema", args=[schema.name])),
                (operation, reverse("admin:gqlgov_operation", args=[schema.name, operation])),
                ("Edit rule" if existing else "Add rule", None),
            ],
        },
    )


def _saved(request, schema: Schema, form: RuleForm, document: dict[str, Any], existing: dict[str, Any] | None) -> bool:
    """Saves a valid form's rule to the draft (True), or puts the service's objections on the form."""
    if not form.is_valid():
        return False
    rule = form.to_rule()
    replaces = str(existing["id"]) if existing else None
    try:
        draft = drafts.rule_upsert(schema=schema, user=request.user, rule=rule, replaces=replaces)
    except PolicyInvalid as exc:
        form.add_engine_errors(exc.details.get("errors", []), _index_for(document, replaces))
        return False
    except ApiError as exc:
        form.add_error(None, exc.message)
        return False
    messages.success(
        request, f"Saved rule {rule['id']} to draft v{draft.number}. Submit the draft for review when it is ready."
    )
    for warning in policy_warnings(schema, draft.document, rule_id=rule["id"]):
        messages.warning(request, warning)
    return True


def _index_for(document: dict[str, Any], replaces: str | None) -> int:
    """Where the saved rule sits in the document (new rules are appended), to place the engine's errors."""
    rules = document.get("rules") or []
    for index, rule in enumerate(rules):
        if replaces and isinstance(rule, dict) and str(rule.get("id")) == replaces:
            return index
    return len(rules)


def _suggest_id(document: dict[str, Any], operation: str) -> str:
    base = operation.split(".", 1)[-1]
    base = "".join("-" + c.lower() if c.isupper() else c for c in base).strip("-")
    taken = {str(rule.get("id")) for rule in access.rules_of(document)}
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    return candidate


@roles.requires(roles.VIEW)
def rule_add(request, name: str, operation: str):
    roles.require(request.user, roles.EDIT_POLICY)
    return _rule_form_page(request, schema_or_404(name), operation, None)


@roles.requires(roles.VIEW)
def rule_edit(request, name: str, operation: str, rule_id: str):
    roles.require(request.user, roles.EDIT_POLICY)
    schema = schema_or_404(name)
    document, _open = working_document(schema)
    existing = next((r for r in access.rules_of(document) if str(r.get("id")) == rule_id), None)
    if existing is None:
        raise Http404("No such rule in the working version.")
    return _rule_form_page(request, schema, operation, existing)


@require_POST
@roles.requires(roles.EDIT_POLICY)
def rule_delete_view(request, name: str, operation: str, rule_id: str):
    schema = schema_or_404(name)
    try:
        draft = drafts.rule_delete(schema=schema, user=request.user, rule_id=rule_id)
    except ApiError as exc:
        report(request, exc)
    else:
        messages.success(request, f"Deleted rule {rule_id} from draft v{draft.number}.")
    return redirect("admin:gqlgov_operation", schema.name, operation)
