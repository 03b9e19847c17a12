"""Moving a policy onto a new schema version from its page: the draft pinned to it, and one click
per stale reference (map it to a suggested rename, or drop it). The reads are policies.lockstep's."""

from django.contrib import messages
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from gqlgov import roles
from gqlgov.console.common import report, schema_or_404
from gqlgov.errors import ApiError
from policies import lockstep
from policies.models import Schema, SchemaVersion
from policies.services import drafts


def version_lockstep(schema: Schema, version: SchemaVersion) -> dict:
    """The version page's lockstep card: the review of the version and, when the open draft is
    pinned to it, that draft with its stale references and their fixes."""
    review = lockstep.version_review(schema, version)
    draft = drafts.open_version(schema)
    on_version = draft is not None and draft.schema_version_id == version.pk
    return {**review, "draft": draft if on_version else None,
            "draft_fixes": lockstep.fixes_for(draft) if on_version else []}


@require_POST
@roles.requires(roles.EDIT_POLICY)
def version_draft(request, name: str, number: int):
    """Creates (or moves) the schema's draft onto schema version `number`, rules carried over."""
    schema = schema_or_404(name)
    try:
        draft, fixes = drafts.draft_for_schema_version(schema=schema, number=number, user=request.user)
    except ApiError as exc:
        report(request, exc)
    else:
        blocking = sum(fix.blocking for fix in fixes)
        messages.success(request, f"Draft v{draft.number} now targets schema v{number}"
                         + (f"; fix its {blocking} stale reference(s) below before submitting." if blocking else "."))
    return redirect("admin:gqlgov_schema_version", schema.name, number)


@require_POST
@roles.requires(roles.EDIT_POLICY)
def stale_fix(request, name: str, number: int):
    """Applies one fix to the draft: `replacement` maps the reference to it, an empty one drops it."""
    schema = schema_or_404(name)
    rule, reference = request.POST.get("rule", ""), request.POST.get("reference", "")
    replacement = request.POST.get("replacement") or None
    try:
        draft = drafts.stale_fix_apply(schema=schema, user=request.user, rule_id=rule, reference=reference,
                                       replacement=replacement)
    except ApiError as exc:
        report(request, exc)
    else:
        done = f"mapped to {replacement}" if replacement else "dropped"
        messages.success(request, f"{reference} in rule {rule} {done} (draft v{draft.number}).")
    return redirect("admin:gqlgov_schema_version", schema.name, number)
