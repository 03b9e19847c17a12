import re

from django.db.models import QuerySet

from agents.models import ApiToken, Principal
from agents.tokens import lookup_id_from_prefix
from gqlgov.errors import NotFound


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
