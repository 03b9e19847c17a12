"""Every write of the API Gateway export, by concern: targets, runs (request, claim, execute,
finish), secrets (what gqlgov holds under KMS), drift and identity changes. Callers use the
names below."""

from policies.gateway.services.drift import drift_check, drift_check_all
from policies.gateway.services.identity import identity_exports_request
from policies.gateway.services.runs import (
    EXPORT_TASK,
    ExecuteOutcome,
    LostClaim,
    TargetBusy,
    TransientExportError,
    enqueue_exports_for_policy,
    export_request,
    export_run_claim,
    export_run_execute,
    export_run_fail_permanently,
)
from policies.gateway.services.secrets import Verification, export_verify, secret_value
from policies.gateway.services.targets import clients_for, lambda_client_for, lockstep_problems, plan_for, target_create

__all__ = [
    "EXPORT_TASK",
    "ExecuteOutcome",
    "LostClaim",
    "TargetBusy",
    "TransientExportError",
    "Verification",
    "clients_for",
    "drift_check",
    "drift_check_all",
    "enqueue_exports_for_policy",
    "export_request",
    "export_run_claim",
    "export_run_execute",
    "export_run_fail_permanently",
    "export_verify",
    "identity_exports_request",
    "lambda_client_for",
    "lockstep_problems",
    "plan_for",
    "secret_value",
    "target_create",
]
