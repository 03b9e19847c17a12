"""gqlgov's AdminSite: access by role, the overview as the index, and the custom pages' URLs."""

from django.contrib import admin

from gqlgov import roles


class GqlgovAdminSite(admin.AdminSite):
    site_header = "gqlgov"
    site_title = "gqlgov admin"
    index_title = "Overview"
    site_url = "/admin/"  # "View site": the overview (the service has no public site of its own)
    enable_nav_sidebar = False  # the top navigation (admin/base_site.html) lists every page

    def has_permission(self, request) -> bool:
        """Anyone with a role (viewer, editor, approver, admin) may open the admin."""
        return bool(roles.roles_of(request.user))

    def each_context(self, request):
        context = super().each_context(request)
        capabilities = roles.capabilities_of(request.user)
        context.update(
            gqlgov_roles=sorted(roles.roles_of(request.user)),
            can={capability: capability in capabilities for capability in roles.CAPABILITIES[roles.ADMIN]},
        )
        return context

    def get_urls(self):
        from gqlgov.console.urls import custom_urls

        return custom_urls(self) + super().get_urls()

    def index(self, request, extra_context=None):
        from gqlgov.console.overview import overview

        return overview(request)
