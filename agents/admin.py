from django.contrib import admin

from agents.models import ApiToken, AuditEvent, Principal


@admin.register(Principal)
class PrincipalAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "status", "owner", "created_at")
    list_filter = ("kind", "status")
    search_fields = ("name", "oidc_subject")


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("prefix", "principal", "created_at", "expires_at", "revoked_at", "last_used_at")
    exclude = ("secret_hash",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("id", "created_at", "actor", "action", "target_type", "target_id")
    list_filter = ("action",)
    search_fields = ("actor", "target_id")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
