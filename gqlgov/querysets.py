"""Small queryset helpers the apps' selectors share (filter bars narrow lists the same way)."""

from typing import Any, TypeVar

from django.db.models import Model, QuerySet

M = TypeVar("M", bound=Model)


def narrowed(queryset: QuerySet[M], **lookups: Any) -> QuerySet[M]:
    """`queryset` filtered by each lookup whose value is given (None and "" narrow nothing)."""
    return queryset.filter(**{lookup: value for lookup, value in lookups.items() if value not in (None, "")})


def distinct_values(queryset: QuerySet, field: str, limit: int) -> list[str]:
    """The first `limit` distinct values of `field`, sorted (the choices of a filter's picker)."""
    return list(queryset.order_by().values_list(field, flat=True).distinct().order_by(field)[:limit])


def created_between(start: Any, end: Any) -> dict[str, Any]:
    """The lookups of a From/Until filter on `created_at` (From included, Until not), for `narrowed`."""
    return {"created_at__gte": start, "created_at__lt": end}
