from django.contrib.admin.apps import AdminConfig


class GqlgovAdminConfig(AdminConfig):
    """django.contrib.admin, with gqlgov's AdminSite as the default `admin.site`."""

    default_site = "gqlgov.console.site.GqlgovAdminSite"
