"""The API's documentation pages, Swagger UI (/api/v1/docs) and ReDoc (/api/v1/redoc), loaded from
the server's own static files so they work offline: `make static` (tools/vendor_static.py) copies
them from the npm packages static-vendor.json lists (pinned by package-lock.json), never a CDN. A server installed
without that step answers 503 with what to run instead of a blank page."""

import json
from pathlib import Path
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from ninja.openapi.docs import DocsBase, Redoc, Swagger

VENDOR_MANIFEST = Path(__file__).resolve().parent / "console" / "static" / "gqlgov" / "vendor" / "manifest.json"


def vendored_version(package: str) -> str | None:
    """The version of `package` `make static` put into the static files, or None if it did not."""
    try:
        manifest = json.loads(VENDOR_MANIFEST.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    entry = manifest.get(package)
    return entry.get("version") if isinstance(entry, dict) else None


def _docs_page(request: HttpRequest, package: str, template: str, context: dict[str, Any]) -> HttpResponse:
    version = vendored_version(package)
    if version is None:
        return render(request, "gqlgov/api_docs/not_installed.html", {"package": package, **context}, status=503)
    return render(request, template, {"version": version, **context})


class LocalSwagger(Swagger):
    """Ninja's Swagger UI page, from the vendored swagger-ui-dist."""

    def __init__(self) -> None:
        # No validator badge: it would send the OpenAPI document's URL to validator.swagger.io.
        super().__init__(settings={"validatorUrl": None})

    def render_page(self, request: HttpRequest, api: Any, **kwargs: Any) -> HttpResponse:
        settings = {**self.settings, "url": self.get_openapi_url(api, kwargs)}
        context = {"api": api, "docs_settings": settings, "openapi_url": settings["url"]}
        return _docs_page(request, "swagger-ui-dist", "gqlgov/api_docs/swagger.html", context)


class LocalRedoc(Redoc):
    """Ninja's ReDoc page, from the vendored redoc standalone bundle."""

    def render_page(self, request: HttpRequest, api: Any, **kwargs: Any) -> HttpResponse:
        openapi_url = self.get_openapi_url(api, kwargs)
        context = {"api": api, "docs_settings": {"url": openapi_url, "options": self.settings},
                   "openapi_url": openapi_url}
        return _docs_page(request, "redoc", "gqlgov/api_docs/redoc.html", context)


def redoc_view(api: Any, docs: DocsBase):
    """A view serving `docs` for `api` (ninja mounts only one docs page per API)."""

    def view(request: HttpRequest) -> HttpResponse:
        return docs.render_page(request, api)

    return view
