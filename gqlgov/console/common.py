"""Helpers every custom admin page shares: rendering inside the admin, and mapping service errors."""

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse

from gqlgov.errors import ApiError
from policies.models import Schema


def render_page(
    request: HttpRequest, template: str, title: str, context: dict[str, Any] | None = None, status: int = 200
) -> TemplateResponse:
    """The template rendered with the admin's context (header, navigation, roles) and `title`."""
    return TemplateResponse(
        request,
        template,
        {**admin.site.each_context(request), "title": title, **(context or {})},
        status=status,
    )


def schema_or_404(name: str) -> Schema:
    return get_object_or_404(Schema.objects.select_related("latest_version", "active_policy"), name=name)


def report(request: HttpRequest, exc: ApiError) -> None:
    """Shows a service error as a readable message at the top of the next page."""
    messages.error(request, exc.message)




def post_int(request: HttpRequest, name: str, default: int | None = None) -> int | None:
    try:
        return int(request.POST.get(name, ""))
    except ValueError:
        return default
