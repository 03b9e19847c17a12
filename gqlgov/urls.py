from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from gqlgov.api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("oidc/", include("mozilla_django_oidc.urls")),
    path("api/v1/", api.urls),
    # Browsers ask for /favicon.ico whatever the page says; answer with the console's icon.
    path("favicon.ico", RedirectView.as_view(url=static("gqlgov/favicon.svg"), permanent=True)),
]
