"""Editing policies rule by rule (the admin UI): drafts, rules, submission, review.

Edits always go to a *draft* version, created from the active version on first edit; an
approved version is never changed in place. Each function writes its audit event in the
same transaction as its change. Whoever created or edited a draft counts as its author and
may not approve or reject it.
"""

import copy
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.utils import timezone

from agents.audit import actor_for_user, record_event
from gqlgov.errors import ApiError, NotFound
from policies import lockstep
from policies.engine.policy_diff import rule_diff as rule_diff  # re-exported: the console's review pages
from policies.models import PolicyVersion, Schema
from policies.services.common import Conflict, PolicyInvalid, validate_document
from policies.services.review import policy_approve, refuse_self_approval
from policies.services.versions import create_draft

OPEN_STATUSES = (PolicyVersion.Status.DRAFT, PolicyVersion.Status.IN_REVIEW)


def open_version(schema: Schema) -> PolicyVersion | None:
    """The newest draft or in-review version of the schema, if any (what the editor works on)."""
    return (
        schema.policy_versions.filter(status__in=OPEN_STATUSES)
        .select_related("author", "schema")
        .order_by("-number")
        .first()
    )


def empty_document(schema: Schema) -> dict[str, Any]:
    return {"schema": schema.name, "rules": []}


def draft_for_edit(*, schema: Schema, user) -> PolicyVersion:
    """The schema's open draft, or a new one copied from the active version (audited).

    Refuses (409 IN_REVIEW) while a version is waiting for review: reviewers judge a fixed text.
    """
    with transaction.atomic():
        schema = Schema.objects.select_for_update().get(pk=schema.pk)
        current = open_version(schema)
        if current is not None and current.status == PolicyVersion.Status.IN_REVIEW:
            raise Conflict(
                "IN_REVIEW",
                f"Version {current.number} is waiting for review; withdraw it or wait for the decision before editing.",
            )
        if current is not None:
            return current
        active = schema.active_policy
        document = copy.deepcopy(active.document) if active else empty_document(schema)
        draft = create_draft(schema=schema, document=document, author=user,
                             details={"based_on": active.number if active else None, "via": "admin"},
                             schema_version=lockstep.default_pin(schema))
    return draft


def draft_for_schema_version(*, schema: Schema, number: int, user) -> tuple[PolicyVersion, list[Any]]:
    """The schema's open draft moved onto schema version `number` (or a new draft, copied from the
    active version, pinned there), audited, with the stale references it must fix first."""
    target = schema.versions.filter(number=number).first()
    if target is None:
        raise NotFound(f"version {number} of schema '{schema.name}'")
    with transaction.atomic():
        draft = draft_for_edit(schema=schema, user=user)
        draft = PolicyVersion.objects.select_for_update().get(pk=draft.pk)
        if draft.status != PolicyVersion.Status.DRAFT:
            raise Conflict("IN_REVIEW", f"Version {draft.number} is in review; withdraw it first.")
        before = draft.schema_version.number if draft.schema_version_id else None
        draft.schema_version = target
        draft.document = copy.deepcopy(draft.document)
        draft.save(update_fields=["schema_version", "document", "updated_at"])
        fixes = lockstep.fixes_for(draft)
        record_event(
            actor=actor_for_user(user),
            action="policy.draft_repinned",
            target=draft,
            details={"schema": schema.name, "version": draft.number, "schema_version_before": before,
                     "schema_version": number, "stale": [fix.as_dict() for fix in fixes]},
        )
    return draft, fixes


def stale_fix_apply(*, schema: Schema, user, rule_id: str, reference: str, replacement: str | None) -> PolicyVersion:
    """Fixes one stale reference in the schema's draft: every entry `reference` of rule `rule_id`'s
    operations and fields.deny is replaced by `replacement`, or dropped when it is None (audited)."""

    def fix(rules: list[Any], draft: PolicyVersion) -> dict[str, Any]:
        index = _index_of(rules, rule_id)
        if index is None:
            raise NotFound(f"rule '{rule_id}' in {schema.name} policy v{draft.number}")
        rule = rules[index]
        fields = rule.get("fields")
        lists = [rule.get("operations"), fields.get("deny") if isinstance(fields, dict) else None]
        found = False
        for entries in lists:
            if isinstance(entries, list) and reference in entries:
                found = True
                position = entries.index(reference)
                if replacement is None:
                    entries.pop(position)
                else:
                    entries[position] = replacement
        if not found:
            raise NotFound(f"'{reference}' in rule '{rule_id}'")
        return {"rule": rule_id, "reference": reference, "replacement": replacement}

    return _edit_rules(schema=schema, user=user, action="policy.stale_reference_fixed", edit=fix)


def _rules(document: dict[str, Any]) -> list[dict[str, Any]]:
    rules = document.get("rules")
    if not isinstance(rules, list):
        rules = []
        document["rules"] = rules
    return rules


def _index_of(rules: list[dict[str, Any]], rule_id: str) -> int | None:
    for index, rule in enumerate(rules):
        if isinstance(rule, dict) and str(rule.get("id")) == rule_id:
            return index
    return None


def _edit_rules(
    *, schema: Schema, user, action: str, edit: Callable[[list[Any], PolicyVersion], dict[str, Any]]
) -> PolicyVersion:
    """Applies `edit` to the rules of the schema's draft (created from the active version if
    needed), compiles the result and saves it with an audit event; an invalid result saves nothing.
    `edit` changes the rules in place and returns the audit details."""
    with transaction.atomic():
        draft = draft_for_edit(schema=schema, user=user)
        draft = PolicyVersion.objects.select_for_update().get(pk=draft.pk)
        document = copy.deepcopy(draft.document)
        details = edit(_rules(document), draft)
        validate_document(schema, document, lockstep.pinned_schema_version(draft))
        draft.document = document
        draft.save(update_fields=["document", "updated_at"])
        record_event(
            actor=actor_for_user(user),
            action=action,
            target=draft,
            details={"schema": schema.name, "version": draft.number, **details},
        )
    return draft


def rule_upsert(*, schema: Schema, user, rule: dict[str, Any], replaces: str | None = None) -> PolicyVersion:
    """Adds `rule` to the schema's draft, or replaces the rule with id `replaces`; returns the draft.

    The whole draft is compiled first; an invalid rule saves nothing (PolicyInvalid, with the
    rule id and field of every error) and creates no draft.
    """
    rule_id = str(rule.get("id") or "")

    def upsert(rules: list[Any], draft: PolicyVersion) -> dict[str, Any]:
        index = _index_of(rules, replaces) if replaces else None
        if replaces and index is None:
            raise NotFound(f"rule '{replaces}' in {schema.name} policy v{draft.number}")
        clash = _index_of(rules, rule_id)
        if clash is not None and clash != index:
            position = len(rules) if index is None else index
            raise PolicyInvalid(
                [
                    {
                        "rule": rule_id,
                        "field": f"rules[{position}].id",
                        "message": f"a rule with id '{rule_id}' exists; choose another id",
                    }
                ]
            )
        before = copy.deepcopy(rules[index]) if index is not None else None
        if index is None:
            rules.append(rule)
        else:
            rules[index] = rule
        change = "added" if before is None else "changed"
        return {"rule": rule_id, "change": change, "before": before, "after": rule}

    return _edit_rules(schema=schema, user=user, action="policy.rule_saved", edit=upsert)


def rule_delete(*, schema: Schema, user, rule_id: str) -> PolicyVersion:
    """Removes the rule from the schema's draft (created from the active version if needed)."""

    def delete(rules: list[Any], draft: PolicyVersion) -> dict[str, Any]:
        index = _index_of(rules, rule_id)
        if index is None:
            raise NotFound(f"rule '{rule_id}' in {schema.name} policy v{draft.number}")
        return {"rule": rule_id, "before": rules.pop(index)}

    return _edit_rules(schema=schema, user=user, action="policy.rule_deleted", edit=delete)


def _transition(
    version: PolicyVersion,
    *,
    user,
    from_status: str,
    to: dict[str, Any],
    what: str,
    details: dict[str, Any] | None = None,
) -> PolicyVersion:
    """Claims a status change with a conditional UPDATE (a concurrent change gets 409) and audits it."""
    with transaction.atomic():
        if not PolicyVersion.objects.filter(pk=version.pk, status=from_status).update(**to, updated_at=timezone.now()):
            version.refresh_from_db()
            raise Conflict(
                "NOT_" + what.upper(),
                f"Version {version.number} is {version.get_status_display().lower()}; it cannot be {what} now.",
            )
        record_event(
            actor=actor_for_user(user),
            action=f"policy.{what}",
            target=version,
            details={"schema": version.schema.name, "version": version.number, **(details or {})},
        )
    version.refresh_from_db()
    return version


def draft_submit(*, version: PolicyVersion, user) -> PolicyVersion:
    """Sends a draft for review; it must compile against its schema version and name nothing that
    version lacks (POLICY_STALE). Approvers then see it in Reviews."""
    validate_document(version.schema, version.document, lockstep.pinned_schema_version(version))
    lockstep.refuse_stale(version)
    return _transition(
        version,
        user=user,
        from_status=PolicyVersion.Status.DRAFT,
        to={"status": PolicyVersion.Status.IN_REVIEW, "submitted_at": timezone.now()},
        what="submitted",
    )


def draft_withdraw(*, version: PolicyVersion, user) -> PolicyVersion:
    """Takes a version back from review into draft so it can be edited again."""
    return _transition(
        version,
        user=user,
        from_status=PolicyVersion.Status.IN_REVIEW,
        to={"status": PolicyVersion.Status.DRAFT, "submitted_at": None},
        what="withdrawn",
    )


def _check_reviewer(version: PolicyVersion, user) -> None:
    if not user.has_perm("policies.approve_policyversion"):
        raise ApiError("PERMISSION_DENIED", f"{user.get_username()} may not review policies.", status=403)
    refuse_self_approval(version, user)


def policy_review_approve(*, version: PolicyVersion, user, comment: str = "") -> PolicyVersion:
    """Approves a submitted version (it becomes active, exports are enqueued), with an optional comment."""
    _check_reviewer(version, user)
    if version.status != PolicyVersion.Status.IN_REVIEW:
        raise Conflict(
            "NOT_IN_REVIEW",
            f"Version {version.number} is {version.get_status_display().lower()}; "
            "only submitted versions are approved here.",
        )
    with transaction.atomic():
        version = policy_approve(approver=user, version=version)
        if comment.strip():
            PolicyVersion.objects.filter(pk=version.pk).update(review_comment=comment.strip())
            record_event(
                actor=actor_for_user(user),
                action="policy.review_commented",
                target=version,
                details={
                    "schema": version.schema.name,
                    "version": version.number,
                    "comment": comment.strip(),
                },
            )
    version.refresh_from_db()
    return version


def policy_reject(*, version: PolicyVersion, user, comment: str) -> PolicyVersion:
    """Rejects a submitted version with a comment the author reads; the active version stays."""
    _check_reviewer(version, user)
    if not comment.strip():
        raise ApiError(
            "VALIDATION_ERROR",
            "Say why the version is rejected.",
            status=422,
            details={"fields": {"comment": ["Say why the version is rejected."]}},
        )
    return _transition(
        version,
        user=user,
        from_status=PolicyVersion.Status.IN_REVIEW,
        to={
            "status": PolicyVersion.Status.REJECTED,
            "approver": user,
            "decided_at": timezone.now(),
            "review_comment": comment.strip(),
        },
        what="rejected",
        details={"comment": comment.strip()},
    )
