"""Bearer authentication for the API: gqlgov API tokens or JWTs from the configured IdP."""

from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone
from ninja.security import HttpBearer

from agents.identity import AuthError, Identity
from agents.identity_cache import identity_cache
from agents.jwt import authenticate_jwt
from agents.models import ApiToken, Principal
from agents.tokens import NO_TOKEN_HASH, looks_like_api_token, parse_token, secret_matches
from gqlgov.errors import ApiError
from gqlgov.middleware import agent_var


def authenticate_api_token(raw: str, *, confirm_later: bool = False) -> Identity:
    """The identity behind an API token, or AuthError with the precise reason.

    `confirm_later`: a cached token is used without reading the auth generation; the identity's
    `unconfirmed_generation` is then what the caller must confirm (see IdentityCache.lookup_unconfirmed).
    """
    parsed = parse_token(raw)
    if parsed is None:
        raise AuthError("INVALID_TOKEN", "The bearer token is not a valid gqlgov API token.")

    def load() -> ApiToken | None:
        return ApiToken.objects.select_related("principal").filter(lookup_id=parsed.lookup_id).first()

    generation = None
    if confirm_later:
        token, generation = identity_cache.lookup_unconfirmed(parsed.lookup_id, load)
    else:
        token = identity_cache.lookup(parsed.lookup_id, load)
    # An unknown id costs the same comparison as a known one: no answer tells which ids exist.
    stored_hash = token.secret_hash if token is not None else NO_TOKEN_HASH
    if not secret_matches(parsed.secret, stored_hash) or token is None:
        raise AuthError("INVALID_TOKEN", "The bearer token is not a valid gqlgov API token.")
    now = timezone.now()
    if token.revoked_at is not None and token.revoked_at <= now:
        raise AuthError("TOKEN_REVOKED", f"Token {token.prefix} was revoked.")
    if token.expires_at is not None and token.expires_at <= now:
        if token.rotated_to_id is not None:
            raise AuthError("TOKEN_REVOKED", f"Token {token.prefix} was rotated and its grace period is over.")
        raise AuthError("TOKEN_EXPIRED", f"Token {token.prefix} expired at {token.expires_at.isoformat()}.")
    _touch_last_used(token, now)
    return Identity(principal=token.principal, method="api_token", token_prefix=token.prefix,
                    unconfirmed_generation=generation)


def _touch_last_used(token: ApiToken, now) -> None:
    """Writes last_used_at at most once per resolution window, not on every request."""
    resolution = timedelta(seconds=settings.TOKEN_LAST_USED_RESOLUTION_S)
    if token.last_used_at is not None and now - token.last_used_at < resolution:
        return
    ApiToken.objects.filter(pk=token.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - resolution)
    ).update(last_used_at=now)
    token.last_used_at = now  # the row may be cached (identity_cache): next request skips the write


def authenticate_bearer(raw: str, *, confirm_later: bool = False) -> Identity:
    if looks_like_api_token(raw):
        identity = authenticate_api_token(raw, confirm_later=confirm_later)
    elif raw.count(".") == 2:
        identity = authenticate_jwt(raw)
    else:
        raise AuthError("INVALID_TOKEN", "The bearer token is neither a gqlgov API token nor a JWT.")
    if not identity.principal.is_active:
        if identity.unconfirmed_generation is not None:
            # A cached row is only confirmed on the way to an allow (the limiter's guard); a refusal
            # must not rest on it, or a resumed agent stays refused until the entry expires.
            return authenticate_bearer(raw, confirm_later=False)
        raise ApiError("AGENT_SUSPENDED", f"{identity.principal.name} is suspended.", status=403)
    return identity


class AgentAuth(HttpBearer):
    """Any active principal, by API token or IdP JWT; sets `request.identity`."""

    confirm_later = False

    def authenticate(self, request: HttpRequest, token: str) -> Identity:
        identity = authenticate_bearer(token.strip(), confirm_later=self.confirm_later)
        request.identity = identity
        agent_var.set(identity.principal.name)
        return identity


class CheckAuth(AgentAuth):
    """AgentAuth for POST /check: a cached identity is confirmed by the check's one Redis round
    trip (the limiter's guard) instead of a read of its own; the check redoes it when stale."""

    confirm_later = True


def is_api_staff(principal: Principal) -> bool:
    """Staff on the API: a principal in a configured staff group, or linked to a staff user."""
    if set(principal.groups) & set(settings.GQLGOV_API_STAFF_GROUPS):
        return True
    return bool(principal.user_id and principal.user.is_staff)


class StaffAuth(AgentAuth):
    """Staff and CI callers only; anyone else gets 403."""

    def authenticate(self, request: HttpRequest, token: str) -> Identity:
        identity = super().authenticate(request, token)
        if not is_api_staff(identity.principal):
            raise ApiError("PERMISSION_DENIED", "This endpoint is for staff and CI callers.", status=403)
        return identity
