"""Admin roles derived from identity-provider groups: viewer, editor, approver, admin.

The groups come from the OIDC login (agents.oidc syncs them into Django groups at every
login); `settings.GQLGOV_ROLE_GROUPS` maps role -> group names. Superusers are admins. A
staff user in no mapped group is a viewer, so a staff flag alone never grants a change.

Roles are a set (someone may be editor and approver); each grants capabilities, and every
view and admin action asks for a capability, never for a role name, so the mapping lives
here only. `RoleBackend` exposes the same capabilities as Django permissions, which is what
`policy_approve` (and the admin's own permission checks) consult.
"""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied

VIEWER, EDITOR, APPROVER, ADMIN = "viewer", "editor", "approver", "admin"
ROLES = (VIEWER, EDITOR, APPROVER, ADMIN)

# Capabilities: what a view or action may require.
VIEW = "view"  # read every page (not secrets)
VIEW_SECRETS = "view_secrets"  # token prefixes, export secrets' metadata
MANAGE_AGENTS = "manage_agents"  # create/edit/suspend/resume principals, issue/revoke/rotate tokens
EDIT_POLICY = "edit_policy"  # edit drafts, submit them for review, register schema versions
APPROVE = "approve"  # approve/reject policy versions
OPERATE_EXPORTS = "operate_exports"  # sync now, roll back to an earlier approved version
RELINK_IDENTITIES = "relink_identities"  # give a signed-in human's principal another OIDC subject

CAPABILITIES: dict[str, frozenset[str]] = {
    VIEWER: frozenset({VIEW}),
    EDITOR: frozenset({VIEW, VIEW_SECRETS, MANAGE_AGENTS, EDIT_POLICY}),
    APPROVER: frozenset({VIEW, APPROVE, OPERATE_EXPORTS}),
    ADMIN: frozenset({VIEW, VIEW_SECRETS, MANAGE_AGENTS, EDIT_POLICY, APPROVE, OPERATE_EXPORTS, RELINK_IDENTITIES}),
}

# What each capability lets a person do, in words (the demo prints them per role).
CAPABILITY_LABELS: dict[str, str] = {
    VIEW: "read every page",
    VIEW_SECRETS: "see token prefixes",
    MANAGE_AGENTS: "manage agents and their tokens",
    EDIT_POLICY: "edit and submit policy drafts, register schemas",
    APPROVE: "approve or reject others' policy versions",
    OPERATE_EXPORTS: "sync and roll back gateway exports",
    RELINK_IDENTITIES: "relink OIDC identities",
}


def role_summary(role: str) -> str:
    """What `role` may do, in words: reading for everyone, then what it adds (an admin: what no
    other role adds, after "everything the others may")."""
    capabilities = CAPABILITIES[role]
    others = frozenset().union(*(CAPABILITIES[other] for other in ROLES if other != role))
    if capabilities > others:
        extra = [CAPABILITY_LABELS[c] for c in CAPABILITY_LABELS if c in capabilities - others]
        return "everything the others may, and " + ", ".join(extra)
    return ", ".join(CAPABILITY_LABELS[c] for c in CAPABILITY_LABELS if c in capabilities)


# Django permissions each capability stands for (for RoleBackend and the ModelAdmins).
_PERMISSIONS: dict[str, tuple[str, ...]] = {
    APPROVE: ("policies.approve_policyversion",),
}


def role_groups() -> dict[str, list[str]]:
    mapping = getattr(settings, "GQLGOV_ROLE_GROUPS", {}) or {}
    return {role: list(mapping.get(role) or ()) for role in ROLES}


def roles_of(user: Any) -> frozenset[str]:
    """The roles of a signed-in user; empty for anonymous and inactive users."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return frozenset()
    cached = getattr(user, "_gqlgov_roles", None)
    if cached is not None:
        return cached
    roles: set[str] = set()
    if user.is_superuser:
        roles.add(ADMIN)
    names = set(user.groups.values_list("name", flat=True))
    for role, groups in role_groups().items():
        if names & set(groups):
            roles.add(role)
    if not roles and user.is_staff:
        roles.add(VIEWER)
    result = frozenset(roles)
    user._gqlgov_roles = result
    return result


def capabilities_of(user: Any) -> frozenset[str]:
    caps: set[str] = set()
    for role in roles_of(user):
        caps |= CAPABILITIES[role]
    return frozenset(caps)


def can(user: Any, capability: str) -> bool:
    return capability in capabilities_of(user)


def require(user: Any, capability: str) -> None:
    """Raises PermissionDenied (HTTP 403) unless the user has the capability."""
    if not can(user, capability):
        raise PermissionDenied(f"This needs the '{capability}' capability, which your roles do not grant.")


def requires(capability: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """View decorator: 403 for users without the capability (after the admin's login check)."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapped(request: Any, *args: Any, **kwargs: Any) -> Any:
            require(request.user, capability)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


class RoleBackend:
    """An authentication backend that authenticates nobody and grants permissions by role."""

    def authenticate(self, request: Any, **credentials: Any) -> None:
        return None

    def get_user(self, user_id: Any) -> None:
        return None

    def has_perm(self, user: Any, perm: str, obj: Any = None) -> bool:
        return any(perm in _PERMISSIONS.get(cap, ()) for cap in capabilities_of(user))

    def has_module_perms(self, user: Any, app_label: str) -> bool:
        return False


class RoleAdminMixin:
    """ModelAdmin permissions by capability: `view_capability` to read, `change_capability` to add
    and change (None: read-only). Nothing is deleted through the admin: history stays."""

    view_capability: str = VIEW
    change_capability: str | None = None

    def has_module_permission(self, request: Any) -> bool:
        return can(request.user, self.view_capability)

    def has_view_permission(self, request: Any, obj: Any = None) -> bool:
        return can(request.user, self.view_capability)

    def has_add_permission(self, request: Any) -> bool:
        return self.change_capability is not None and can(request.user, self.change_capability)

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return self.change_capability is not None and can(request.user, self.change_capability)

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False
