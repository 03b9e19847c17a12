"""Human login to the admin through the company's OIDC provider (mozilla-django-oidc)."""

from mozilla_django_oidc.auth import OIDCAuthenticationBackend


class PrincipalOIDCBackend(OIDCAuthenticationBackend):
    """Placeholder: matched on `sub`, groups synced (being implemented)."""
