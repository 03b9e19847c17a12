"""Human login to the admin through the company's OIDC provider (mozilla-django-oidc).

Users are matched on the provider's `sub`, never on email: an email address can be changed
or reassigned, the subject cannot. Groups, staff and superuser are re-derived from the
provider's claims at every login, so removing someone from a group at the provider takes
their rights away at their next login.
"""

import re
from typing import Any

import jwt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.db import transaction
from django.http import JsonResponse
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from agents.audit import actor_for_user, record_event
from agents.jwt import SigningKeysUnavailable, decode_verified
from agents.models import Principal
from agents.selectors import first_free_value, free_principal_name
from agents.services import principal_create, principal_link_user
from gqlgov.errors import error_body

# Tolerated clock difference between this service and the provider.
ID_TOKEN_LEEWAY_S = 30


class PrincipalOIDCBackend(OIDCAuthenticationBackend):
    """Authorization code flow with PKCE; the user is the one linked to the human principal of `sub`."""

    def verify_token(self, token, **kwargs):
        """The ID token's claims once its RS256 signature (JWKS), `aud`, `exp` and nonce check out."""
        try:
            claims = decode_verified(
                token,
                jwks_url=self.OIDC_OP_JWKS_ENDPOINT,
                audience=self.OIDC_RP_CLIENT_ID,
                issuer=None,  # the token comes straight from the token endpoint we chose
                algorithms=[self.OIDC_RP_SIGN_ALGO],
                leeway=ID_TOKEN_LEEWAY_S,
            )
        except (jwt.InvalidTokenError, SigningKeysUnavailable) as exc:
            raise SuspiciousOperation(f"ID token refused: {exc}") from exc
        if claims.get("nonce") != kwargs.get("nonce"):
            raise SuspiciousOperation("ID token nonce does not match the login request.")
        return claims

    def get_userinfo(self, access_token, id_token, payload):
        """The ID token's claims overlaid with the userinfo endpoint's, which must be about the same `sub`."""
        userinfo = super().get_userinfo(access_token, id_token, payload)
        if userinfo.get("sub") != payload.get("sub"):
            raise SuspiciousOperation("The userinfo endpoint answered for another subject.")
        return {**payload, **userinfo}

    def get_or_create_user(self, access_token, id_token, payload):
        claims = self.get_userinfo(access_token, id_token, payload)
        return oidc_login(claims=claims, idp_actor=f"idp:{payload.get('iss', 'oidc')}")


class _RequiresOIDC:
    """Without OIDC settings mozilla-django-oidc would redirect /oidc/authenticate/ to itself: answer
    404 OIDC_NOT_CONFIGURED instead (the login page offers no SSO button then)."""

    def dispatch(self, request, *args, **kwargs):
        if not settings.OIDC_ENABLED:
            password = " Sign in with a password at /admin/login/." if settings.LOCAL_LOGIN_ENABLED else ""
            message = (
                "Single sign-on is not configured on this server "
                f"(OIDC_RP_CLIENT_ID and OIDC_OP_AUTHORIZATION_ENDPOINT are not set).{password}"
            )
            return JsonResponse(error_body("OIDC_NOT_CONFIGURED", message), status=404)
        return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]


class AuthenticationRequestView(_RequiresOIDC, OIDCAuthenticationRequestView):
    """GET /oidc/authenticate/ (OIDC_AUTHENTICATE_CLASS)."""


class AuthenticationCallbackView(_RequiresOIDC, OIDCAuthenticationCallbackView):
    """GET /oidc/callback/ (OIDC_CALLBACK_CLASS)."""


class _LoginRefused(Exception):
    def __init__(self, principal: Principal, reason: str) -> None:
        super().__init__(reason)
        self.principal, self.reason = principal, reason


def oidc_login(*, claims: dict[str, Any], idp_actor: str):
    """The Django user for these verified claims, created on first login, with groups and rights synced.

    Raises PermissionDenied (audited as login.refused) when the subject belongs to a non-human or
    suspended principal, or to one whose user another subject's login created: a login never yields
    another person's user.
    """
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise SuspiciousOperation("The provider sent no subject.")
    try:
        with transaction.atomic():
            user, principal = _login_user(subject, claims, idp_actor)
            _sync_profile_and_rights(user, principal, claims, idp_actor)
            record_event(
                actor=actor_for_user(user),
                action="login.oidc",
                target=principal,
                details={"sub": subject, "is_staff": user.is_staff, "is_superuser": user.is_superuser},
            )
    except _LoginRefused as refused:
        # Recorded after the rollback of the login's own transaction, so the refusal stays in the trail.
        record_event(
            actor=idp_actor, action="login.refused", target=refused.principal,
            details={"sub": subject, "reason": refused.reason},
        )
        raise PermissionDenied(refused.reason) from None
    return user


def _login_user(subject: str, claims: dict[str, Any], idp_actor: str):
    """The user and human principal of `subject`: found, linked at the first login, or both created."""
    principal = (
        Principal.objects.select_for_update(of=("self",))
        .select_related("user")
        .filter(oidc_subject=subject)
        .first()
    )
    if principal is None:
        user = _new_user(claims)
        principal = principal_create(
            actor=idp_actor,
            name=free_principal_name(user.username),
            kind=Principal.Kind.HUMAN,
            oidc_subject=subject,
            user=user,
        )
        return user, principal
    if principal.kind != Principal.Kind.HUMAN or not principal.is_active:
        reason = f"Subject {subject!r} belongs to a {principal.kind} {principal.status} principal."
        raise _LoginRefused(principal, reason)
    if principal.user is None:
        principal = principal_link_user(actor=idp_actor, principal=principal, user=_new_user(claims), subject=subject)
    elif principal.linked_subject != subject:
        raise _LoginRefused(principal, f"{principal.name}'s user was created by another subject's login.")
    return principal.user, principal


def _new_user(claims: dict[str, Any]):
    wanted = claims.get("preferred_username") or claims.get("email") or claims["sub"]
    username = re.sub(r"[^\w.@+-]+", "-", str(wanted)) or "user"
    User = get_user_model()
    username = first_free_value(User.objects.all(), "username", username, User._meta.get_field("username").max_length)
    # No usable password: this person signs in through the provider only.
    return User.objects.create_user(username, email=claims.get("email") or "")


def synced_groups(claims: dict[str, Any]) -> set[str]:
    """The provider's groups this service takes over: those with the configured prefix, in the
    allowlist, or named as staff, superuser or admin-role groups. Everything else is ignored."""
    groups = claims.get(settings.OIDC_GROUPS_CLAIM)
    if isinstance(groups, str):
        groups = [groups]
    if not isinstance(groups, list):
        groups = []
    prefix = settings.OIDC_GROUP_PREFIX
    allowed = {
        *settings.OIDC_GROUP_ALLOWLIST,
        *settings.OIDC_STAFF_GROUPS,
        *settings.OIDC_SUPERUSER_GROUPS,
        *_role_groups(),
    }
    return {str(group) for group in groups if (prefix and str(group).startswith(prefix)) or str(group) in allowed}


def _role_groups() -> set[str]:
    """Groups that carry an admin role (viewer, editor, approver, admin): they make a user staff."""
    return {group for groups in settings.GQLGOV_ROLE_GROUPS.values() for group in groups}


def _sync_profile_and_rights(user, principal: Principal, claims: dict[str, Any], idp_actor: str) -> None:
    groups = synced_groups(claims)
    before = set(user.groups.values_list("name", flat=True))
    rights_before = {"is_staff": user.is_staff, "is_superuser": user.is_superuser}
    user.is_superuser = bool(groups & set(settings.OIDC_SUPERUSER_GROUPS))
    user.is_staff = user.is_superuser or bool(groups & {*settings.OIDC_STAFF_GROUPS, *_role_groups()})
    user.email = claims.get("email") or user.email
    user.first_name = str(claims.get("given_name") or user.first_name)[:150]
    user.last_name = str(claims.get("family_name") or user.last_name)[:150]
    user.save()
    user.groups.set([Group.objects.get_or_create(name=name)[0] for name in sorted(groups)])
    principal.groups = sorted(groups)
    principal.save(update_fields=["groups", "updated_at"])
    rights_changed = {
        name: {"from": was, "to": getattr(user, name)}
        for name, was in rights_before.items()
        if was != getattr(user, name)
    }
    if groups != before or rights_changed:
        record_event(
            actor=idp_actor,
            action="groups.synced",
            target=principal,
            details={"added": sorted(groups - before), "removed": sorted(before - groups), **rights_changed},
        )
