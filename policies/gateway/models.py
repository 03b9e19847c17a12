"""Gateway targets, export runs and their calls, drift reports and the secrets gqlgov holds.

These models were the policies app's until the gateway app existed: each keeps its table
(``db_table``) and, in the audit trail, the target type its events have always had (see the end).
"""

from django.core.validators import RegexValidator
from django.db import models

from policies.gateway.limits import IAM_ROLE_ARN, LAMBDA_ARN
from policies.gateway.stage_settings import DEFAULT_RETENTION_DAYS, LOG_LEVELS, RETENTION_DAYS

__all__ = ["DriftReport", "ExportCall", "ExportRun", "GatewayTarget", "TargetSecret"]


LogLevel = models.TextChoices("LogLevel", [(level, level) for level in LOG_LEVELS])


class GatewayTarget(models.Model):
    """One API Gateway REST API stage that a schema's approved policies are exported to.

    Credentials never live here: boto3's standard chain (environment, profile, instance role)."""

    class Auth(models.TextChoices):
        IAM = "iam", "AWS_IAM (SigV4)"
        API_KEY = "api_key", "API keys"
        BOTH = "both", "AWS_IAM and API keys"

    class Enforcement(models.TextChoices):
        """How the pre-check's decisions bind (README, "Enforcement"; policies/gateway/enforcement.py)."""

        BACKEND = "backend", "Backend verifies the decision token"
        AUTHORIZER = "authorizer", "API Gateway authorizer verifies the decision token"
        NONE = "none", "Advisory (the pre-check is not enforced)"

    name = models.SlugField(max_length=100, unique=True)
    schema = models.ForeignKey("policies.Schema", on_delete=models.PROTECT, related_name="gateway_targets")
    region = models.CharField(max_length=30)
    account_id = models.CharField(
        max_length=12,
        blank=True,
        validators=[RegexValidator(r"^\d{12}$", "An AWS account id has 12 digits.")],
    )
    rest_api_id = models.CharField(
        max_length=40, blank=True, help_text="Empty: gqlgov creates and owns a REST API for this target."
    )
    resolved_rest_api_id = models.CharField(max_length=40, blank=True, help_text="The API the last export used.")
    stage_name = models.CharField(max_length=128)
    lambda_arn = models.CharField(max_length=300, blank=True, help_text="Backend Lambda (AWS_PROXY).")
    http_url = models.URLField(max_length=500, blank=True, help_text="Backend URL (HTTP_PROXY).")
    auth_mode = models.CharField(max_length=10, choices=Auth.choices, default=Auth.BOTH)
    # New targets verify decisions at the backend; targets from before enforcement existed were
    # migrated to `none` (what they did), so no deployment changes mode without a person choosing.
    enforcement = models.CharField(max_length=12, choices=Enforcement.choices, default=Enforcement.BACKEND)
    authorizer_arn = models.CharField(
        max_length=300,
        blank=True,
        validators=[RegexValidator(LAMBDA_ARN, "Give a Lambda function ARN.")],
        help_text="Authorizer mode: an existing authorizer function. Empty: the export deploys one.",
    )
    authorizer_role_arn = models.CharField(
        max_length=300,
        blank=True,
        validators=[RegexValidator(IAM_ROLE_ARN, "Give an IAM role ARN.")],
        help_text="Authorizer mode: the execution role of the authorizer function the export deploys.",
    )
    kms_key_id = models.CharField(max_length=300, blank=True, help_text="Symmetric key for stored secrets.")
    signing_key_id = models.CharField(max_length=300, blank=True, help_text="Asymmetric RSA key signing plans.")
    endpoint_url = models.CharField(max_length=300, blank=True, help_text="For moto or LocalStack only.")
    auto_heal = models.BooleanField(default=False, help_text="Re-apply the active version when drift is found.")
    require_full_coverage = models.BooleanField(
        default=False, help_text="Refuse exports while the schema has operations no rule governs."
    )
    enabled = models.BooleanField(default=True)
    # Stage logging and metrics (stage_settings.py). Logging needs API Gateway's CloudWatch role
    # on the account; without it (and without cloudwatch_role_arn) the export leaves logging off.
    access_logging = models.BooleanField(
        default=True, help_text="Access log (JSON lines) to the CloudWatch Logs group /aws/apigateway/gqlgov-<name>."
    )
    access_log_retention_days = models.PositiveIntegerField(
        default=DEFAULT_RETENTION_DAYS,
        choices=[(days, f"{days} day{'s' * (days != 1)}" if days else "forever") for days in RETENTION_DAYS],
        help_text="Days CloudWatch Logs keeps the access log (0: forever).",
    )
    execution_log_level = models.CharField(max_length=5, choices=LogLevel.choices, default=LogLevel.OFF)
    detailed_metrics = models.BooleanField(default=False, help_text="Per-method CloudWatch metrics.")
    cloudwatch_role_arn = models.CharField(
        max_length=300,
        blank=True,
        validators=[RegexValidator(r"^arn:aws[a-z-]*:iam::\d{12}:role/\S+$", "An IAM role ARN.")],
        help_text="Set on API Gateway's account for logging when the account has none.",
    )
    # One export per target at a time: a run claims the target with a conditional UPDATE and
    # renews its lease on every AWS call; a crashed worker's claim expires with the lease.
    active_run = models.ForeignKey("ExportRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    last_rotation_at = models.DateTimeField(null=True, blank=True, help_text="Last on-demand KMS key rotation.")
    last_drift_check_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=200)

    class Meta:
        db_table = "policies_gatewaytarget"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ExportRun(models.Model):
    """One export of a policy version to a target: the plan, its signature, every call, the outcome."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        REFUSED = "refused", "Refused (schema lockstep)"
        SUPERSEDED = "superseded", "Superseded by a newer export"

    class Trigger(models.TextChoices):
        APPROVAL = "approval", "Approval"
        MANUAL = "manual", "Manual"
        DRIFT = "drift", "Drift auto-heal"
        ROLLBACK = "rollback", "Rollback"
        IDENTITY = "identity", "Identity change"

    target = models.ForeignKey(GatewayTarget, on_delete=models.CASCADE, related_name="runs")
    policy_version = models.ForeignKey("policies.PolicyVersion", on_delete=models.PROTECT, related_name="export_runs")
    schema_version = models.ForeignKey(
        "policies.SchemaVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED, db_index=True)
    trigger = models.CharField(max_length=10, choices=Trigger.choices, default=Trigger.MANUAL)
    requested_by = models.CharField(max_length=200)
    superseded_by = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    plan = models.JSONField(null=True, blank=True)
    plan_hash = models.CharField(max_length=64, blank=True)
    signature = models.TextField(blank=True, help_text="Base64 KMS signature of the plan's SHA-256 digest.")
    signing_key_id = models.CharField(max_length=300, blank=True)
    signing_algorithm = models.CharField(max_length=40, blank=True)
    report = models.JSONField(default=list, blank=True)
    rest_api_id = models.CharField(max_length=40, blank=True)
    deployment_id = models.CharField(max_length=40, blank=True)
    changes = models.JSONField(default=list, blank=True)
    mutating_calls = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    error_details = models.JSONField(default=dict, blank=True)

    class Meta:
        db_table = "policies_exportrun"
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"export #{self.pk} {self.target} v{self.policy_version.number} ({self.status})"

    @property
    def duration_ms(self) -> int | None:
        if self.started_at and self.finished_at:
            return int((self.finished_at - self.started_at).total_seconds() * 1000)
        return None


class ExportCall(models.Model):
    """One AWS API call made by a run (reads too), recorded through botocore's event hooks."""

    run = models.ForeignKey(ExportRun, on_delete=models.CASCADE, related_name="calls")
    attempt = models.PositiveIntegerField(default=1)
    seq = models.PositiveIntegerField()
    service = models.CharField(max_length=40)
    action = models.CharField(max_length=80)
    resource = models.CharField(max_length=500, blank=True)
    outcome = models.CharField(max_length=10)
    mutating = models.BooleanField(default=False)
    retries = models.PositiveIntegerField(default=0)
    duration_ms = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        db_table = "policies_exportcall"
        ordering = ["run", "attempt", "seq"]

    def __str__(self) -> str:
        return f"{self.action} {self.resource} -> {self.outcome}"


class DriftReport(models.Model):
    """What differed between a target's live gateway and its active version's plan."""

    target = models.ForeignKey(GatewayTarget, on_delete=models.CASCADE, related_name="drift_reports")
    policy_version = models.ForeignKey("policies.PolicyVersion", on_delete=models.PROTECT, related_name="+")
    detected_at = models.DateTimeField(auto_now_add=True)
    differences = models.JSONField(default=list)
    heal_run = models.ForeignKey(ExportRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        db_table = "policies_driftreport"
        ordering = ["-detected_at"]

    def __str__(self) -> str:
        return f"drift on {self.target}: {len(self.differences)} difference(s)"


class TargetSecret(models.Model):
    """An API key value gqlgov generated, envelope-encrypted: a KMS data key (stored wrapped)
    encrypts the value with AES-256-GCM; the plaintext is never stored."""

    target = models.ForeignKey(GatewayTarget, on_delete=models.CASCADE, related_name="secrets")
    agent_name = models.CharField(max_length=100)
    api_key_id = models.CharField(max_length=40, blank=True)
    kms_key_id = models.CharField(max_length=300)
    encrypted_data_key = models.BinaryField()
    nonce = models.BinaryField()
    ciphertext = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)
    encrypted_at = models.DateTimeField()

    class Meta:
        db_table = "policies_targetsecret"
        ordering = ["target", "agent_name"]
        constraints = [
            models.UniqueConstraint(fields=["target", "agent_name"], name="target_secret_agent_unique"),
        ]

    def __str__(self) -> str:
        return f"API key of {self.agent_name} on {self.target}"


# Audit events name these objects policies.<model>, as before the move (agents.audit reads
# `audit_type`), so one object's events, requested before an upgrade and finished after it,
# share one target type.
for _model in (GatewayTarget, ExportRun, ExportCall, DriftReport, TargetSecret):
    _model.audit_type = f"policies.{_model._meta.model_name}"
