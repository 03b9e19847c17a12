import re
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q, QuerySet
from django.utils import timezone

from agents.models import ApiToken, AuditEvent, Principal
from agents.tokens import lookup_id_from_prefix
from gqlgov.errors import NotFound
from gqlgov.querysets import created_between, distinct_values, narrowed


def principal_by_name(name: str) -> Principal:
    principal = Principal.objects.filter(name=name).first()
    if principal is None:
        raise NotFound(f"principal '{name}'")
    return principal


def token_by_prefix(prefix: str) -> ApiToken:
    lookup_id = lookup_id_from_prefix(prefix)
    token = ApiToken.objects.select_related("principal").filter(lookup_id=lookup_id).first() if lookup_id else None
    if token is None:
        raise NotFound(f"token '{prefix}'")
    return token


def first_free_value(queryset: QuerySet, field: str, wanted: str, max_length: int) -> str:
    """`wanted`, else `wanted-2`, `wanted-3`, ...: the first value of `field` no row of `queryset` has."""
    base = wanted[: max_length - 6]
    taken = set(queryset.filter(**{f"{field}__startswith": base}).values_list(field, flat=True))
    candidate, number = base, 1
    while candidate in taken:
        number += 1
        candidate = f"{base}-{number}"
    return candidate


def free_principal_name(wanted: str) -> str:
    """A principal name (slug) derived from `wanted` that no principal has yet."""
    slug = re.sub(r"[^a-z0-9_]+", "-", wanted.lower()).strip("-") or "principal"
    max_length = Principal._meta.get_field("name").max_length
    return first_free_value(Principal.objects.all(), "name", slug, max_length)


# --- Lists the console filters -------------------------------------------------------------


@dataclass(frozen=True)
class AuditFilter:
    """What the audit trail is narrowed to; empty fields do not narrow it."""

    actor: str = ""  # exact, e.g. user:ada or agent:support-bot
    action: str = ""  # exact (token.issued) or a family ending in a dot (token.)
    target_type: str = ""
    target_id: str = ""
    start: datetime | None = None
    end: datetime | None = None


def audit_events(where: AuditFilter) -> QuerySet[AuditEvent]:
    """Events matching `where`, newest first (the chain is verified in id order: agents.audit)."""
    action_lookup = "action__startswith" if where.action.endswith(".") else "action"
    lookups = {"actor": where.actor, action_lookup: where.action, "target_type": where.target_type}
    return narrowed(
        AuditEvent.objects.order_by("-id"),
        target_id=where.target_id,
        **lookups,
        **created_between(where.start, where.end),
    )


def audit_choices() -> dict[str, list[str]]:
    """The actions and object types the trail holds, for the filters' pickers (bounded)."""
    return {
        "actions": distinct_values(AuditEvent.objects, "action", 500),
        "target_types": distinct_values(AuditEvent.objects, "target_type", 200),
    }


def principals(*, kind: str = "", status: str = "", search: str = "") -> QuerySet[Principal]:
    """Principals by name, narrowed by kind, status and a name or OIDC-subject substring."""
    queryset = narrowed(Principal.objects.select_related("owner").order_by("name"), kind=kind, status=status)
    if search:
        queryset = queryset.filter(Q(name__icontains=search) | Q(oidc_subject__icontains=search))
    return queryset


TOKEN_STATES = ("active", "rotated", "revoked", "expired")


def tokens(*, principal: str = "", state: str = "") -> QuerySet[ApiToken]:
    """API tokens, newest first, narrowed by principal name and state (TOKEN_STATES)."""
    now = timezone.now()
    queryset = ApiToken.objects.select_related("principal", "rotated_to").order_by("-created_at")
    if principal:
        queryset = queryset.filter(principal__name=principal)
    live = Q(revoked_at=None) & (Q(expires_at=None) | Q(expires_at__gt=now))
    if state == "active":
        queryset = queryset.filter(live, rotated_to=None)
    elif state == "rotated":
        queryset = queryset.filter(live).exclude(rotated_to=None)
    elif state == "revoked":
        queryset = queryset.exclude(revoked_at=None)
    elif state == "expired":
        queryset = queryset.filter(revoked_at=None, expires_at__lte=now)
    return queryset
