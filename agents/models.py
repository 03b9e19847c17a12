"""Identities (humans, AI agents, services), their API tokens, and the hash-chained audit trail."""

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

IAM_ROLE_ARN_VALIDATOR = RegexValidator(
    regex=r"^arn:aws(-[a-z]+)*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$",
    message="Enter an IAM role ARN such as arn:aws:iam::123456789012:role/support-bot.",
)


class Principal(models.Model):
    """Someone or something that calls the API: an AI agent, a service account or a human."""

    class Kind(models.TextChoices):
        AI = "ai", "AI agent"
        HUMAN = "human", "Human"
        SERVICE = "service", "Service account"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"

    name = models.SlugField(max_length=100, unique=True)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_principals",
        help_text="The human accountable for this identity.",
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="principal",
        help_text="The admin login of a human principal.",
    )
    groups = models.JSONField(default=list, blank=True)
    attributes = models.JSONField(default=dict, blank=True)
    iam_role_arn = models.CharField(max_length=600, blank=True, validators=[IAM_ROLE_ARN_VALIDATOR])
    oidc_subject = models.CharField(max_length=255, null=True, blank=True, unique=True)
    # The subject whose own SSO login linked `user`. Only that login (agents.services.principal_link_user)
    # and an admin's re-link (which unlinks the user) write it, so a login whose subject differs from it
    # can never be handed this user, whatever happened to `oidc_subject`.
    linked_subject = models.CharField(max_length=255, blank=True, default="", editable=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


class ApiToken(models.Model):
    """An API token; only the SHA-256 of its secret is stored. `lookup_id` is the public prefix."""

    principal = models.ForeignKey(Principal, on_delete=models.CASCADE, related_name="tokens")
    lookup_id = models.CharField(max_length=32, unique=True)
    secret_hash = models.CharField(max_length=64)
    label = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    rotated_to = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="rotated_from"
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.prefix

    @property
    def prefix(self) -> str:
        from agents.tokens import TOKEN_PREFIX

        return f"{TOKEN_PREFIX}{self.lookup_id}"

    @property
    def state(self) -> str:
        """revoked, expired, rotated (still valid for its grace period) or active (selectors.TOKEN_STATES)."""
        if self.revoked_at:
            return "revoked"
        if self.expires_at and self.expires_at <= timezone.now():
            return "expired"
        return "rotated" if self.rotated_to_id else "active"


class AuditEvent(models.Model):
    """One append-only entry of the audit trail. `hash` covers the event and its predecessor's hash."""

    created_at = models.DateTimeField()
    actor = models.CharField(max_length=200, help_text="user:<username>, agent:<name> or system")
    action = models.CharField(max_length=100, db_index=True)
    target_type = models.CharField(max_length=100)
    target_id = models.CharField(max_length=200)
    details = models.JSONField(default=dict)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.action} {self.target_type}:{self.target_id} by {self.actor}"


class AuditChainHead(models.Model):
    """A single row naming the newest event; appending locks it, which serialises the chain."""

    last_hash = models.CharField(max_length=64, default="")
    count = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"audit chain head ({self.count} events)"
