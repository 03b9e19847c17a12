"""Admin for identities, tokens and the audit trail. Every write goes through agents.services.

Principals are added and edited here; their list, their page (tokens, recent decisions,
callable operations), the token list and the audit trail are console pages (gqlgov/console).
"""

from django import forms
from django.contrib import admin, messages
from django.shortcuts import redirect

from agents import services
from agents.audit import actor_for_user
from agents.models import ApiToken, AuditEvent, Principal
from gqlgov import roles
from gqlgov.admin_redirects import ConsolePagesMixin


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
        labels = {"iam_role_arn": "IAM role ARN", "oidc_subject": "OIDC subject"}

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
class PrincipalAdmin(ConsolePagesMixin, roles.RoleAdminMixin, admin.ModelAdmin):
    """The add and edit forms; the list is the console's (admin:gqlgov_agents), and so is each
    agent's page (admin:gqlgov_agent), where it is suspended, resumed and given tokens."""

    change_capability = roles.MANAGE_AGENTS
    console_list = "admin:gqlgov_agents"
    form = PrincipalForm
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

    def add_view(self, request, form_url="", extra_context=None):
        return super().add_view(request, form_url, {"title": "Add agent", **(extra_context or {})})

    def change_view(self, request, object_id, form_url="", extra_context=None):
        principal = self.get_object(request, object_id)
        title = f"Edit agent {principal.name}" if principal else "Edit agent"
        return super().change_view(request, object_id, form_url, {"title": title, **(extra_context or {})})

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
            return redirect("admin:gqlgov_agent", obj.name)
        return super().response_add(request, obj, post_url_continue)


@admin.register(ApiToken)
class ApiTokenAdmin(ConsolePagesMixin, roles.RoleAdminMixin, admin.ModelAdmin):
    """Read-only: the list is the console's (admin:gqlgov_tokens); tokens are issued, rotated and
    revoked on the agent's page."""

    view_capability = roles.VIEW_SECRETS
    console_list = "admin:gqlgov_tokens"
    exclude = ("secret_hash",)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """A token is shown on its agent's page (with revoke and rotate)."""
        token = self.get_object(request, object_id) if self.has_view_permission(request) else None
        if token is None:
            return super().change_view(request, object_id, form_url, extra_context)  # 403 or 404 as Django answers
        return redirect("admin:gqlgov_agent", token.principal.name)


@admin.register(AuditEvent)
class AuditEventAdmin(ConsolePagesMixin, roles.RoleAdminMixin, admin.ModelAdmin):
    """The trail is the console's (admin:gqlgov_audit, newest first, with the chain's status)."""

    console_list = "admin:gqlgov_audit"
    console_detail = "admin:gqlgov_audit_event"
