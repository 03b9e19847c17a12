"""ModelAdmins whose list (and object page) is a console page: Django's changelist URLs, still
linked from bookmarks and the admin's own buttons, lead there with their filters kept."""

from typing import Any

from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.urls import reverse

# Django changelist filter names -> the console filter bar's (the rest pass through unchanged).
_RENAMED_FILTERS = {"decision__exact": "decision", "kind__exact": "kind", "status__exact": "status", "q": "q"}


class ConsolePagesMixin:
    """`console_list` (URL name) replaces the changelist; `console_detail` (URL name, given the
    object's pk) replaces the change page, unless it is None (the stock form stays)."""

    console_list: str = ""
    console_detail: str | None = None

    def changelist_view(self, request: Any, extra_context: Any = None) -> Any:
        if not self.has_view_or_change_permission(request):  # type: ignore[attr-defined]
            raise PermissionDenied  # as the changelist would: the redirect reveals nothing either
        query = request.GET.copy()
        for old, new in _RENAMED_FILTERS.items():
            if old in query and old != new:
                query.setlist(new, query.pop(old))
        url = reverse(self.console_list)
        return redirect(f"{url}?{query.urlencode()}" if query else url)

    def change_view(self, request: Any, object_id: str, form_url: str = "", extra_context: Any = None) -> Any:
        if self.console_detail is None:
            return super().change_view(request, object_id, form_url, extra_context)  # type: ignore[misc]
        if not self.has_view_or_change_permission(request):  # type: ignore[attr-defined]
            raise PermissionDenied
        return redirect(self.console_detail, object_id)
