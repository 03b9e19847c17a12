from django.contrib import admin
from django.urls import include, path

from gqlgov.api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("oidc/", include("mozilla_django_oidc.urls")),
    path("api/v1/", api.urls),
]
