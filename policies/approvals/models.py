"""Approval requests and the people's votes on them (registered under the policies app)."""

import uuid

from django.conf import settings
from django.db import models

from policies.operations import CheckedOperation


class ApprovalRequest(CheckedOperation):
    """A check a require_approval rule decided, waiting for people; bound to the exact document
    (SHA-256 of its text and of the RFC 8785 variables, as a decision token binds them), agent,
    schema, policy version and operation. Document and variables are kept redacted only."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        DENIED = "denied", "Denied"
        EXPIRED = "expired", "Expired"
        USED = "used", "Used"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(db_index=True)
    expires_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    principal = models.ForeignKey("agents.Principal", on_delete=models.CASCADE, related_name="approval_requests")
    agent_name = models.CharField(max_length=100)
    # The person the agent acted for: an approval for acting on their behalf is for that alone.
    delegator = models.ForeignKey("agents.Principal", null=True, blank=True, on_delete=models.CASCADE,
                                  related_name="delegated_approval_requests")
    delegator_name = models.CharField(max_length=100, blank=True, default="")
    document_sha256 = models.CharField(max_length=64)
    variables_sha256 = models.CharField(max_length=64)
    document_redacted = models.TextField(blank=True)
    variables_redacted = models.JSONField(default=dict)
    metrics = models.JSONField(default=dict)
    rule = models.CharField(max_length=100)
    required_approvals = models.PositiveSmallIntegerField(default=1)
    approver_groups = models.JSONField(default=list, blank=True)
    approvals = models.PositiveSmallIntegerField(default=0)
    reason = models.TextField(blank=True, help_text="The agent's context.reason, shortened.")
    decision_id = models.UUIDField(help_text="The pending_approval decision that asked for it.")
    decided_at = models.DateTimeField(null=True, blank=True)
    comment = models.TextField(blank=True, help_text="The denying approver's comment.")
    used_at = models.DateTimeField(null=True, blank=True)
    used_by_decision = models.UUIDField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["principal", "document_sha256"], name="approval_agent_document")]
        constraints = [
            # Two identical checks at once ask for one request, not two.
            models.UniqueConstraint(
                fields=["principal", "delegator_name", "schema_name", "policy_version", "operation_name",
                        "document_sha256", "variables_sha256"],
                condition=models.Q(status="pending"), name="one_pending_approval_per_check",
            ),
        ]

    def __str__(self) -> str:
        return f"approval {self.pk} {self.agent_name} {self.operation_name or '-'}: {self.status}"


class ApprovalVote(models.Model):
    """One person's approve or deny; one per person and request."""

    request = models.ForeignKey(ApprovalRequest, on_delete=models.CASCADE, related_name="votes")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="approval_votes")
    decision = models.CharField(max_length=10)  # approve | deny
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at"]
        constraints = [models.UniqueConstraint(fields=["request", "user"], name="one_vote_per_person")]

    def __str__(self) -> str:
        return f"{self.user} {self.decision}s {self.request_id}"
