"""Admin for identities, tokens and the audit trail. Every write goes through agents.services.

Principals are listed and edited here; their page with tokens, recent decisions and callable
operations is gqlgov/console/agents.py (admin:gqlgov_agent).
"""

from django import forms
from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from agents import services
from agents.audit import actor_for_user, verify_chain
from agents.models import ApiToken, AuditEvent, Principal
from agents.tokens import without_token_prefixes
from gqlgov import roles
from gqlgov.display import pretty
from gqlgov.errors import ApiError


def _split_groups(text: str) -> list[str]:
    return sorted({part.strip() for part in text.replace("\n", ",").split(",") if part.strip()})


def _parse_attributes(text: str) -> dict[str, str]:
    attributes: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise forms.ValidationError(f"Line {number}: write attributes as key=value, one per line.")
        attributes[key.strip()] = value.strip()
    return attributes


class PrincipalForm(forms.ModelForm):
    """Groups as a comma-separated list and attributes as key=value lines, instead of raw JSON."""

    groups_text = forms.CharField(
        label="Groups",
        required=False,
        help_text="Comma-separated, e.g. support, billing.",
        widget=forms.TextInput(attrs={"size": 60}),
    )
    attributes_text = forms.CharField(
        label="Attributes",
        required=False,
        help_text="One key=value per line, e.g. team=support.",
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
    )

    class Meta:
        model = Principal
        fields = ("name", "kind", "owner", "iam_role_arn", "oidc_subject")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["groups_text"].initial = ", ".join(self.instance.groups)
            self.fields["attributes_text"].initial = "\n".join(f"{k}={v}" for k, v in self.instance.attributes.items())
        if "oidc_subject" in self.fields:
            self.fields["oidc_subject"].required = False
            if self.instance.user_id is not None:  # only admins get the field here (see get_readonly_fields)
                self.fields["oidc_subject"].help_text = (
                    f"Signs in as user {self.instance.user}. Changing it unlinks and deactivates that user "
                    "(audited); the next login of the new subject gets a user of its own."
                )

    def clean_groups_text(self) -> list[str]:
        return _split_groups(self.cleaned_data.get("groups_text") or "")

    def clean_attributes_text(self) -> dict[str, str]:
        return _parse_attributes(self.cleaned_data.get("attributes_text") or "")

    def clean_oidc_subject(self):
        return self.cleaned_data.get("oidc_subject") or None


@admin.register(Principal)
class PrincipalAdmin(roles.RoleAdminMixin, admin.ModelAdmin):
    change_capability = roles.MANAGE_AGENTS
    form = PrincipalForm
    list_display = ("name_link", "kind", "status_badge", "owner", "group_list", "created_at")
    list_filter = ("kind", "status")
    search_fields = ("name", "oidc_subject")
    actions = ("suspend_selected", "resume_selected")
    fieldsets = (
        (None, {"fields": ("name", "kind", "owner")}),
        ("Matching", {"fields": ("groups_text", "attributes_text")}),
        ("Authentication", {"fields": ("iam_role_arn", "oidc_subject")}),
    )

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        if obj.user_id is None:
            return ("name",)
        # A linked human's kind never changes, and its subject only through an admin's re-link.
        if roles.can(request.user, roles.RELINK_IDENTITIES):
            return ("name", "kind")
        return ("name", "kind", "oidc_subject")

    @admin.display(description="Name", ordering="name")
    def name_link(self, obj: Principal):
        return format_html('<a href="{}">{}</a>', reverse("admin:gqlgov_agent", args=[obj.name]), obj.name)

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj: Principal):
        return format_html('<span class="gg-badge gg-{}">{}</span>', obj.status, obj.get_status_display())

    @admin.display(description="Groups")
    def group_list(self, obj: Principal):
        return format_html_join(" ", '<span class="gg-chip">{}</span>', ((g,) for g in obj.groups)) or "—"

    def save_model(self, request, obj, form, change):
        """Creates or updates through the services, so the audit event is written with the change."""
        actor = actor_for_user(request.user)
        data = form.cleaned_data
        fields = {
            "owner": data.get("owner"),
            "groups": data["groups_text"],
            "attributes": data["attributes_text"],
            "iam_role_arn": data.get("iam_role_arn") or "",
        }
        # Read-only fields are not in the form, and so not changed.
        fields.update({name: data.get(name) for name in ("kind", "oidc_subject") if name in form.fields})
        if change:
            principal = Principal.objects.get(pk=obj.pk)
            if principal.user_id is not None and fields.get("oidc_subject", principal.oidc_subject) != (
                principal.oidc_subject
            ):
                principal = services.principal_relink(
                    admin=request.user, principal=principal, oidc_subject=fields.pop("oidc_subject")
                )
            saved = services.principal_update(actor=actor, principal=principal, **fields)
        else:
            saved = services.principal_create(actor=actor, name=data["name"], **fields)
        obj.pk = saved.pk
        obj.refresh_from_db()

    def response_add(self, request, obj, post_url_continue=None):
        if "_continue" not in request.POST and "_addanother" not in request.POST:
            self.message_user(request, f"{obj.name} was created. Issue it a token below.", messages.SUCCESS)
            from django.shortcuts import redirect

            return redirect("admin:gqlgov_agent", obj.name)
        return super().response_add(request, obj, post_url_continue)

    def _set_status(self, request, queryset, service, verb: str) -> None:
        roles.require(request.user, roles.MANAGE_AGENTS)
        actor = actor_for_user(request.user)
        changed = 0
        for principal in queryset:
            try:
                service(actor=actor, principal=principal)
                changed += 1
            except ApiError as exc:
                self.message_user(request, f"{principal.name}: {exc.message}", messages.ERROR)
        self.message_user(request, f"{changed} principal(s) {verb}.", messages.SUCCESS)

    @admin.action(description="Suspend selected principals", permissions=["change"])
    def suspend_selected(self, request, queryset):
        self._set_status(request, queryset, services.principal_suspend, "suspended")

    @admin.action(description="Resume selected principals", permissions=["change"])
    def resume_selected(self, request, queryset):
        self._set_status(request, queryset, services.principal_resume, "resumed")


@admin.register(ApiToken)
class ApiTokenAdmin(roles.RoleAdminMixin, admin.ModelAdmin):
    """Read-only; tokens are issued, rotated and revoked on the agent's page."""

    view_capability = roles.VIEW_SECRETS
    list_display = ("prefix", "principal", "label", "created_at", "expires_at", "revoked_at", "last_used_at")
    list_filter = ("revoked_at",)
    search_fields = ("lookup_id", "principal__name", "label")
    exclude = ("secret_hash",)


@admin.register(AuditEvent)
class AuditEventAdmin(roles.RoleAdminMixin, admin.ModelAdmin):
    """The trail, read-only, with the chain's verification status above the list."""

    list_display = ("id", "created_at", "actor", "action", "target", "summary")
    list_filter = ("action", "target_type")
    search_fields = ("actor", "action", "target_id")
    date_hierarchy = "created_at"
    readonly_fields = (
        "created_at",
        "actor",
        "action",
        "target_type",
        "target_id",
        "details_pretty",
        "prev_hash",
        "hash",
    )
    exclude = ("details",)

    @admin.display(description="Target")
    def target(self, obj: AuditEvent) -> str:
        return f"{obj.target_type}:{obj.target_id}"

    # Token prefixes are token details, which viewers do not see: those without VIEW_SECRETS get the
    # *_without_prefixes twins of the two details columns (list_display callables get no request).
    _REDACTED_COLUMNS = {"summary": "summary_without_prefixes", "details_pretty": "details_without_prefixes"}

    def _columns_for(self, request, names):
        if roles.can(request.user, roles.VIEW_SECRETS):
            return names
        return tuple(self._REDACTED_COLUMNS.get(name, name) for name in names)

    def get_list_display(self, request):
        return self._columns_for(request, super().get_list_display(request))

    def get_readonly_fields(self, request, obj=None):
        return self._columns_for(request, super().get_readonly_fields(request, obj))

    @staticmethod
    def _summary(details: dict) -> str:
        text = ", ".join(f"{key}={value}" for key, value in details.items() if key not in ("before", "after"))
        return text if len(text) <= 120 else text[:117] + "…"

    @admin.display(description="Details")
    def summary(self, obj: AuditEvent) -> str:
        return self._summary(obj.details)

    @admin.display(description="Details")
    def summary_without_prefixes(self, obj: AuditEvent) -> str:
        return self._summary(without_token_prefixes(obj.details))

    @admin.display(description="Details")
    def details_pretty(self, obj: AuditEvent):
        return format_html('<pre class="gg-pre">{}</pre>', pretty(obj.details))

    @admin.display(description="Details")
    def details_without_prefixes(self, obj: AuditEvent):
        return format_html('<pre class="gg-pre">{}</pre>', pretty(without_token_prefixes(obj.details)))

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(request, {**(extra_context or {}), "chain": verify_chain()})
