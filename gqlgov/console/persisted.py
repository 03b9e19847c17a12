"""Promoting a recorded check's document to a persisted operation (safelisting), from its
decision's page; the write is policies.services.persisted's."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from agents.audit import actor_for_user
from gqlgov import roles
from gqlgov.console.common import report
from gqlgov.errors import ApiError
from policies.models import Decision, Schema
from policies.services.persisted import persisted_operation_create


@require_POST
@roles.requires(roles.EDIT_POLICY)
def decision_persist(request, decision_id):
    """Promotes a recorded check's document to a persisted operation of its agent or one of its groups."""
    decision = get_object_or_404(Decision, pk=decision_id)
    kind, _, name = request.POST.get("for", "").partition(":")
    schema = Schema.objects.filter(name=decision.schema_name).first()
    try:
        if schema is None or kind not in ("agent", "group"):
            raise ApiError("VALIDATION_ERROR", "Choose an agent or a group of a registered schema.", status=422)
        operation, created = persisted_operation_create(
            actor=actor_for_user(request.user), schema=schema, decision_id=str(decision.pk),
            **{kind: name},
        )
    except ApiError as exc:
        report(request, exc)
    else:
        messages.success(request, f"{'Persisted' if created else 'Already persisted'} for {kind} {name}:"
                         f" sha256 {operation.sha256}.")
    return redirect("admin:gqlgov_decision", decision.pk)
