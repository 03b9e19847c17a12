"""Every write to identities and tokens; each writes its audit event in the same transaction."""

from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils import timezone

from agents.audit import actor_for_user, record_event
from agents.identity_cache import bump_generation
from agents.models import ApiToken, Principal
from agents.signals import announce_on_commit
from agents.tokens import generate_token
from gqlgov import roles
from gqlgov.errors import ApiError

_EDITABLE_FIELDS = ("kind", "owner", "groups", "attributes", "iam_role_arn", "oidc_subject")
# Fields of a principal linked to a Django user that no edit changes: the SSO login matches on the
# subject, so whoever could set it could sign in as that user (only principal_relink does, and it
# unlinks the user first).
_LINKED_FIELDS = ("kind", "oidc_subject")


class InvalidInput(ApiError):
    status = 422

    def __init__(self, message: str, details: Any = None) -> None:
        super().__init__("VALIDATION_ERROR", message, details=details)


def _validated(principal: Principal) -> None:
    try:
        principal.full_clean()
    except DjangoValidationError as exc:
        fields = {field: [str(m) for m in messages] for field, messages in exc.message_dict.items()}
        raise InvalidInput("The identity is invalid: " + "; ".join(
            f"{field}: {' '.join(messages)}" for field, messages in fields.items()
        ), {"fields": fields}) from exc


def _clean_groups(groups) -> list[str]:
    return sorted({str(group).strip() for group in groups or [] if str(group).strip()})


def principal_create(
    *,
    actor: str,
    name: str,
    kind: str,
    owner=None,
    groups: list[str] | None = None,
    attributes: dict[str, str] | None = None,
    iam_role_arn: str = "",
    oidc_subject: str | None = None,
    user=None,
) -> Principal:
    """A new active principal; refuses a taken name or subject with VALIDATION_ERROR."""
    principal = Principal(
        name=name,
        kind=kind,
        owner=owner,
        groups=_clean_groups(groups),
        attributes=dict(attributes or {}),
        iam_role_arn=iam_role_arn or "",
        oidc_subject=oidc_subject or None,
        user=user,
    )
    principal.linked_subject = (principal.oidc_subject or "") if user is not None else ""
    _validated(principal)
    with transaction.atomic():
        principal.save()
        snapshot = _snapshot(principal)
        record_event(actor=actor, action="principal.created", target=principal, details=snapshot)
        announce_on_commit(name=principal.name, change="created", before=None, after=snapshot)
    return principal


def principal_update(*, actor: str, principal: Principal, **changes: Any) -> Principal:
    """Applies `changes` (only editable fields) and records what changed.

    Refuses (403 PERMISSION_DENIED) to change the kind or OIDC subject of a principal linked to a user.
    """
    unknown = set(changes) - set(_EDITABLE_FIELDS)
    if unknown:
        raise InvalidInput(f"Cannot change: {', '.join(sorted(unknown))}.")
    if "groups" in changes:
        changes["groups"] = _clean_groups(changes["groups"])
    if "oidc_subject" in changes:
        changes["oidc_subject"] = changes["oidc_subject"] or None
    locked = [name for name in _LINKED_FIELDS if name in changes and changes[name] != getattr(principal, name)]
    if locked and principal.user_id is not None:
        raise ApiError(
            "PERMISSION_DENIED",
            f"{principal.name} is linked to a user: its {' and '.join(locked)} change only by that person's own "
            "login, or by an admin's re-link (which unlinks the user).",
            status=403,
            details={"fields": locked},
        )
    before = _snapshot(principal)
    for field, value in changes.items():
        setattr(principal, field, value)
    _validated(principal)
    after = _snapshot(principal)
    changed = {key: {"from": before[key], "to": after[key]} for key in after if before.get(key) != after[key]}
    if not changed:
        return principal
    with transaction.atomic():
        principal.save()
        record_event(actor=actor, action="principal.changed", target=principal, details={"changed": changed})
        announce_on_commit(name=principal.name, change="changed", before=before, after=after)
    return principal


def principal_link_user(*, actor: str, principal: Principal, user, subject: str) -> Principal:
    """Links `user` to a principal that has none, as the login of `subject` (its OIDC subject) does.

    Raises 409 CONFLICT when the principal was linked or its subject changed meanwhile.
    """
    before = _snapshot(principal)
    with transaction.atomic():
        linked = Principal.objects.filter(pk=principal.pk, user__isnull=True, oidc_subject=subject).update(
            user=user, linked_subject=subject, updated_at=timezone.now()
        )
        if not linked:
            raise ApiError("CONFLICT", f"{principal.name} was linked or changed concurrently.", status=409)
        principal.refresh_from_db()
        record_event(
            actor=actor, action="principal.linked", target=principal, details={"user": user.get_username()}
        )
        announce_on_commit(name=principal.name, change="linked", before=before, after=_snapshot(principal))
    return principal


def principal_relink(*, admin, principal: Principal, oidc_subject: str | None) -> Principal:
    """Gives the principal another OIDC subject (admins only); the user the old subject signed in as is
    unlinked and deactivated, so the next login of the new subject gets a user of its own."""
    if not roles.can(admin, roles.RELINK_IDENTITIES):
        raise ApiError("PERMISSION_DENIED", "Only an admin may re-link an identity.", status=403)
    oidc_subject = oidc_subject or None
    with transaction.atomic():
        locked = Principal.objects.select_for_update(of=("self",)).select_related("user").get(pk=principal.pk)
        if oidc_subject == locked.oidc_subject:
            return locked
        before, old_user, snapshot = locked.oidc_subject, locked.user, _snapshot(locked)
        locked.oidc_subject, locked.user, locked.linked_subject = oidc_subject, None, ""
        _validated(locked)
        locked.save()
        if old_user is not None:
            old_user.is_active = False  # their sessions stop working at once
            old_user.save(update_fields=["is_active"])
        record_event(
            actor=actor_for_user(admin),
            action="principal.relinked",
            target=locked,
            details={
                "oidc_subject": {"from": before, "to": oidc_subject},
                "unlinked_user": old_user.get_username() if old_user is not None else None,
            },
        )
        bump_generation()
        announce_on_commit(name=locked.name, change="relinked", before=snapshot, after=_snapshot(locked))
    return locked


def _set_status(*, actor: str, principal: Principal, status: str, action: str) -> Principal:
    with transaction.atomic():
        updated = Principal.objects.filter(pk=principal.pk).exclude(status=status).update(
            status=status, updated_at=timezone.now()
        )
        principal.refresh_from_db()
        if updated:
            record_event(actor=actor, action=action, target=principal, details={"status": status})
            bump_generation()  # cached identities (agents/identity_cache.py) are reloaded on the next request
            after = _snapshot(principal)
            # The conditional UPDATE changed the row only if it had the other status (there are two).
            previous = next(value for value in Principal.Status.values if value != status)
            announce_on_commit(
                name=principal.name,
                change=action.removeprefix("principal."),
                before={**after, "status": previous},
                after=after,
            )
    return principal


def principal_suspend(*, actor: str, principal: Principal) -> Principal:
    """Suspends the principal; its very next request is refused with AGENT_SUSPENDED."""
    return _set_status(
        actor=actor, principal=principal, status=Principal.Status.SUSPENDED, action="principal.suspended"
    )


def principal_resume(*, actor: str, principal: Principal) -> Principal:
    return _set_status(actor=actor, principal=principal, status=Principal.Status.ACTIVE, action="principal.resumed")


def _snapshot(principal: Principal) -> dict[str, Any]:
    return {
        "name": principal.name,
        "kind": principal.kind,
        "owner": principal.owner.get_username() if principal.owner_id else None,
        "user": principal.user.get_username() if principal.user_id else None,
        "groups": list(principal.groups),
        "attributes": dict(principal.attributes),
        "iam_role_arn": principal.iam_role_arn,
        "oidc_subject": principal.oidc_subject,
        "status": principal.status,
    }


def token_issue(
    *, actor: str, principal: Principal, expires_in_days: int | None = None, label: str = ""
) -> tuple[ApiToken, str]:
    """A new token for an active principal and its plaintext, which is never retrievable again."""
    if not principal.is_active:
        raise ApiError(
            "AGENT_SUSPENDED", f"{principal.name} is suspended; resume it before issuing tokens.", status=409
        )
    if expires_in_days is not None and not 1 <= expires_in_days <= 3650:
        raise InvalidInput("expires_in_days must be between 1 and 3650.")
    with transaction.atomic():
        token, plaintext = _new_token(principal, expires_in_days, label)
        record_event(
            actor=actor,
            action="token.issued",
            target=principal,
            details={"token": token.prefix, "expires_at": token.expires_at, "label": label},
        )
    return token, plaintext


def _new_token(principal: Principal, expires_in_days: int | None, label: str) -> tuple[ApiToken, str]:
    new = generate_token()
    expires_at = timezone.now() + timedelta(days=expires_in_days) if expires_in_days else None
    token = ApiToken.objects.create(
        principal=principal, lookup_id=new.lookup_id, secret_hash=new.secret_hash, label=label, expires_at=expires_at
    )
    return token, new.plaintext


def token_revoke(*, actor: str, token: ApiToken) -> ApiToken:
    """Revokes the token at once; revoking twice is a no-op."""
    with transaction.atomic():
        now = timezone.now()
        if ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=now):
            record_event(actor=actor, action="token.revoked", target=token.principal, details={"token": token.prefix})
            bump_generation()
        token.refresh_from_db()
    return token


def token_rotate(
    *, actor: str, token: ApiToken, grace_seconds: int = 0, expires_in_days: int | None = None
) -> tuple[ApiToken, str]:
    """A replacement token; the old one keeps working for `grace_seconds`, then stops."""
    if token.revoked_at is not None or token.rotated_to_id is not None:
        raise ApiError("TOKEN_REVOKED", f"{token.prefix} is revoked or already rotated.", status=409)
    if not 0 <= grace_seconds <= 30 * 86400:
        raise InvalidInput("grace_seconds must be between 0 and 2592000 (30 days).")
    principal = token.principal
    if not principal.is_active:
        raise ApiError("AGENT_SUSPENDED", f"{principal.name} is suspended.", status=409)
    with transaction.atomic():
        new_token, plaintext = _new_token(principal, expires_in_days, token.label)
        now = timezone.now()
        old_expiry = now + timedelta(seconds=grace_seconds)
        if token.expires_at is not None:
            old_expiry = min(old_expiry, token.expires_at)
        claimed = ApiToken.objects.filter(pk=token.pk, rotated_to__isnull=True, revoked_at__isnull=True).update(
            rotated_to=new_token, expires_at=old_expiry, revoked_at=None if grace_seconds else now
        )
        if not claimed:
            raise ApiError("TOKEN_REVOKED", f"{token.prefix} was rotated or revoked concurrently.", status=409)
        bump_generation()
        record_event(
            actor=actor,
            action="token.rotated",
            target=principal,
            details={"old_token": token.prefix, "new_token": new_token.prefix, "grace_seconds": grace_seconds},
        )
    token.refresh_from_db()
    return new_token, plaintext
