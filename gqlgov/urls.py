from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from gqlgov.api import api
from gqlgov.api_docs import LocalRedoc, redoc_view
from policies.mcp.views import mcp_endpoint, protected_resource_metadata

urlpatterns = [
    path("admin/", admin.site.urls),
    path("oidc/", include("mozilla_django_oidc.urls")),
    # ReDoc beside ninja's Swagger UI page (/api/v1/docs); both from the vendored static files.
    path("api/v1/redoc", redoc_view(api, LocalRedoc()), name="gqlgov_redoc"),
    path("api/v1/", api.urls),
    path("mcp", mcp_endpoint, name="mcp"),
    # RFC 9728: the metadata of the resource at /mcp, at the root and with the resource's path appended.
    path(".well-known/oauth-protected-resource", protected_resource_metadata),
    path(".well-known/oauth-protected-resource/mcp", protected_resource_metadata),
    # Browsers ask for /favicon.ico whatever the page says; answer with the console's icon.
    path("favicon.ico", RedirectView.as_view(url=static("gqlgov/favicon.svg"), permanent=True)),
]
