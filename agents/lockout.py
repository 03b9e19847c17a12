"""Brute-force lockout of the admin's local password login (django-axes), audited.

A username and a client address (gqlgov.middleware.client_ip, so GQLGOV_TRUSTED_PROXIES applies)
together are locked out after GQLGOV_LOGIN_FAILURE_LIMIT failed passwords, for
GQLGOV_LOGIN_COOLOFF_SECONDS (each further failure restarts the wait); the same person from
another address, and every SSO login, are unaffected. Only password logins count: the OIDC
callback carries no password and its throttling is the provider's job, and a NAT of colleagues
must not be locked out of SSO by someone else's failed attempts.
"""

from typing import Any

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.contrib import admin
from django.shortcuts import render

from agents.audit import record_event


class PasswordLoginLockoutBackend(AxesStandaloneBackend):
    """django-axes' backend for password logins only; first in AUTHENTICATION_BACKENDS."""

    def authenticate(self, request, username=None, password=None, **kwargs: Any):
        # No request: code calling authenticate() itself (Django's test Client.login, scripts), which no
        # client on the network reaches; every login view passes its request.
        if request is None or password is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def is_not_a_password_login(request, credentials: dict[str, Any] | None) -> bool:
    """AXES_WHITELIST_CALLABLE: failed logins without a password (SSO callbacks) are not counted."""
    return "password" not in (credentials or {})


def lockout_response(request, original_response=None, credentials=None):
    """AXES_LOCKOUT_CALLABLE: the admin's page saying the sign-in is locked, with 429."""
    minutes = max(1, round(settings.GQLGOV_LOGIN_COOLOFF_SECONDS / 60))
    context = {
        **admin.site.each_context(request),
        "title": "Sign-in locked",
        "cooloff_minutes": minutes,
        "failure_limit": settings.AXES_FAILURE_LIMIT,
    }
    return render(request, "admin/locked_out.html", context, status=429)


def audit_lockout(sender, request, username, ip_address, **kwargs: Any) -> None:
    """Receiver of axes' user_locked_out: one audit event when a username and address get locked.

    Axes signals again at every failure during the lockout (each restarts the wait); only the
    failure that reached the limit is recorded, so the trail shows lockouts, not every retry.
    """
    if getattr(request, "axes_failures_since_start", None) != settings.AXES_FAILURE_LIMIT:
        return
    record_event(
        actor=f"client:{ip_address}",
        action="login.locked_out",
        target=("auth.user", str(username or "")[:200]),
        details={
            "username": username,
            "ip_address": ip_address,
            "failures": settings.AXES_FAILURE_LIMIT,
            "cooloff_seconds": settings.GQLGOV_LOGIN_COOLOFF_SECONDS,
        },
    )


def connect_signals() -> None:
    from axes.signals import user_locked_out

    user_locked_out.connect(audit_lockout, dispatch_uid="gqlgov_audit_lockout")
