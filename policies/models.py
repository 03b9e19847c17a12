"""Schema registry, policy versions and the decision log.

Export models (gateway targets, runs, drift) live in policies/gateway/models.py and are
imported at the bottom so Django registers them under this app.
"""

import uuid

from django.conf import settings
from django.db import models

from policies.operations import CheckedOperation


class GraphQLSchemas(models.Manager):
    """`Schema.objects`: the GraphQL schemas. Every reader written before REST APIs were registered
    (checks, caches, console, export) reads GraphQL SDL, so the default manager keeps them to it."""

    def get_queryset(self) -> models.QuerySet:
        return super().get_queryset().filter(kind=Schema.Kind.GRAPHQL)


class EveryKind(models.Manager):
    """`Schema.registry`: GraphQL schemas and REST APIs alike (the registration services, related lookups)."""


class Schema(models.Model):
    """A named API, GraphQL (SDL) or REST (an OpenAPI document): one registry, one name space, so
    that policy versions, approvals and exports pin REST APIs as they pin GraphQL schemas. Its
    versions are immutable, its active policy decides checks. `Schema.objects` holds the GraphQL
    schemas; `Schema.registry` every kind."""

    class Kind(models.TextChoices):
        GRAPHQL = "graphql", "GraphQL (SDL)"
        OPENAPI = "openapi", "REST (OpenAPI 3.0/3.1)"

    name = models.SlugField(max_length=100, unique=True)
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.GRAPHQL,
                            help_text="What the versions' text is: GraphQL SDL or an OpenAPI document.")
    created_at = models.DateTimeField(auto_now_add=True)
    latest_version = models.ForeignKey(
        "SchemaVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    active_policy = models.ForeignKey(
        "PolicyVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approval_webhook_url = models.URLField(
        max_length=500, blank=True, help_text="Announce this schema's approval requests here (else the deployment's)."
    )

    class SchemaChanges(models.TextChoices):
        REVIEW = "review", "Every new version waits for a reviewed policy version"
        AUTO_ADDITIVE = "auto_additive", "Purely additive versions take effect without review"

    schema_changes = models.CharField(
        max_length=16, choices=SchemaChanges.choices, default=SchemaChanges.REVIEW,
        help_text="What a newly registered schema version does to enforcement (see README: lockstep).",
    )
    require_replay = models.BooleanField(
        default=False, help_text="A policy version is approved only after a replay of recorded checks against it.",
    )

    objects = GraphQLSchemas()
    registry = EveryKind()

    class Meta:
        ordering = ["name"]
        # Related lookups (version.schema, policy.schema) see every kind.
        base_manager_name = "registry"

    def __str__(self) -> str:
        return self.name


class SchemaVersion(models.Model):
    schema = models.ForeignKey(Schema, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    sdl = models.TextField(help_text="The SDL, or for an OpenAPI API the document as registered (JSON or YAML).")
    content_hash = models.CharField(max_length=64)
    lenient = models.BooleanField(default=False, help_text="Built with assume_valid after strict validation failed.")
    diagnostics = models.JSONField(default=list, blank=True)
    operations = models.JSONField(default=list)
    diff = models.JSONField(default=dict, blank=True, help_text="Changes against the previous version.")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=200)

    class Meta:
        ordering = ["schema", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["schema", "number"], name="schema_version_number_unique"),
            models.UniqueConstraint(fields=["schema", "content_hash"], name="schema_version_content_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.schema.name} v{self.number}"


class PolicyVersion(models.Model):
    """One version of a schema's policy document; drafts are edited, approved ones never."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        IN_REVIEW = "in_review", "In review"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    schema = models.ForeignKey(Schema, on_delete=models.CASCADE, related_name="policy_versions")
    number = models.PositiveIntegerField()
    # The schema version this policy is written, reviewed and approved against: checks under it are
    # decided against this schema version, whatever was registered since (README: lockstep).
    schema_version = models.ForeignKey(
        SchemaVersion, null=True, on_delete=models.PROTECT, related_name="policy_versions"
    )
    document = models.JSONField(help_text="The policy in the policy-file format (see README).")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.DRAFT)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="authored_policies"
    )
    approver = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="approved_policies"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    review_comment = models.TextField(blank=True)

    class Meta:
        ordering = ["schema", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["schema", "number"], name="policy_version_number_unique"),
        ]
        permissions = [("approve_policyversion", "Can approve policy versions")]

    def __str__(self) -> str:
        return f"{self.schema.name} policy v{self.number} ({self.status})"


class Decision(CheckedOperation):
    """One pre-check answer. Variables and document are stored redacted, never raw."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(db_index=True)
    principal = models.ForeignKey("agents.Principal", null=True, on_delete=models.SET_NULL, related_name="decisions")
    agent_name = models.CharField(max_length=100, db_index=True)
    decision = models.CharField(max_length=20, db_index=True)
    reasons = models.JSONField(default=list)
    metrics = models.JSONField(default=dict)
    client_ip = models.GenericIPAddressField(null=True)
    variables_redacted = models.JSONField(default=dict)
    document_redacted = models.TextField(blank=True)
    document_hash = models.CharField(max_length=64, blank=True)
    undeclared_variables = models.PositiveIntegerField(default=0)
    # The check's `context`, values under secret-looking keys redacted: what a replay needs.
    context_redacted = models.JSONField(default=dict)
    # The person the agent acted for (`on_behalf_of`); the name stays when the principal is deleted.
    delegator = models.ForeignKey("agents.Principal", null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="delegated_decisions")
    delegator_name = models.CharField(max_length=100, blank=True, default="")
    # What the agent was shown instead of the true cause (policies/engine/agent_view.py), when that
    # differs: {"replaces": n, "reasons": [...], "metrics": {...}, "operation": {...}}, the reasons
    # standing for the first n of `reasons`. Read through records.as_shown_to_agent.
    shown_to_agent = models.JSONField(null=True, blank=True, default=None)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.agent_name} {self.operation_name or '-'}: {self.decision}"


class PolicyReplay(models.Model):
    """Recorded checks re-evaluated against a policy version (policies/checks/replay.py): how many
    would flip, by rule and by agent. `document_sha256` ties it to the text it replayed."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    policy_version = models.ForeignKey(PolicyVersion, on_delete=models.CASCADE, related_name="replays")
    document_sha256 = models.CharField(max_length=64)
    schema_version = models.PositiveIntegerField(null=True)
    since = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    total = models.PositiveIntegerField(default=0, help_text="Recorded checks to replay (progress: done / total).")
    done = models.PositiveIntegerField(default=0)
    summary = models.JSONField(default=dict, blank=True)
    requested_by = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"replay of {self.policy_version} ({self.status})"


class PersistedOperation(models.Model):
    """A document staff promoted for an agent or a group (safelisting, as Apollo's persisted
    queries): identified by the SHA-256 of its text; what a rule with `persisted_only` admits."""

    schema = models.ForeignKey(Schema, on_delete=models.CASCADE, related_name="persisted_operations")
    sha256 = models.CharField(max_length=64, db_index=True)
    document = models.TextField()
    operation_name = models.CharField(max_length=200, blank=True)
    principal = models.ForeignKey("agents.Principal", null=True, blank=True, on_delete=models.CASCADE,
                                  related_name="persisted_operations")
    group = models.CharField(max_length=100, blank=True)
    created_by = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(principal__isnull=False, group="")
                           | (models.Q(principal__isnull=True) & ~models.Q(group=""))),
                name="persisted_operation_for_an_agent_or_a_group",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.schema.name} {self.sha256[:12]} for {self.principal or self.group}"


class DecisionSigningKey(models.Model):
    """A key that signs decision tokens (policies/signing). One is active; a retired key stays in
    the JWKS until `not_after`, when every token it signed has expired.

    Either KMS holds the private key (`kms_key_id`) or gqlgov does, AES-256-GCM encrypted: under a
    KMS data key (`wrap_kms_key_id`, the wrapped data key beside it) or, with no wrap key, under a
    key derived from SECRET_KEY. The plaintext private key is never stored; it is wiped at retirement.
    """

    kid = models.CharField(max_length=64, unique=True, help_text="RFC 7638 thumbprint of the public key.")
    public_jwk = models.JSONField()
    kms_key_id = models.CharField(max_length=2048, blank=True, help_text="KMS key that signs; empty: gqlgov signs.")
    wrap_kms_key_id = models.CharField(max_length=2048, blank=True)
    encrypted_data_key = models.BinaryField(blank=True, default=b"")
    nonce = models.BinaryField(blank=True, default=b"")
    encrypted_private_key = models.BinaryField(blank=True, default=b"")
    active = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True)
    not_after = models.DateTimeField(null=True, blank=True, help_text="Published in the JWKS until then.")

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["active"], condition=models.Q(active=True), name="one_active_decision_signing_key"
            ),
        ]

    def __str__(self) -> str:
        return f"decision signing key {self.kid}"


# Approval requests live in policies/approvals; imported here so Django registers them in this app.
from policies.approvals.models import ApprovalRequest, ApprovalVote  # noqa: E402

__all__ = ["ApprovalRequest", "ApprovalVote", "Decision", "DecisionSigningKey", "PolicyVersion", "Schema",
           "SchemaVersion"]
