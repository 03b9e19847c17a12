"""Gateway targets: creating them (audited), their AWS clients, and the plan a version has on one.

The plan is built against the schema's latest version; `lockstep_problems` says when it may not
be exported (stale references, or ungoverned operations on a target requiring full coverage).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction

from agents.audit import record_event
from agents.models import Principal
from gqlgov.errors import ApiError
from policies import lockstep
from policies.gateway.aws import aws_client
from policies.gateway.models import GatewayTarget
from policies.gateway.plan import build_plan
from policies.gateway.stage_settings import DEFAULT_RETENTION_DAYS
from policies.gateway.verifier_package import verifier_package
from policies.models import PolicyVersion, Schema
from policies.selectors import policy_coverage


def target_create(
    *,
    actor: str,
    name: str,
    schema: Schema,
    region: str,
    stage_name: str,
    lambda_arn: str = "",
    http_url: str = "",
    rest_api_id: str = "",
    account_id: str = "",
    endpoint_url: str = "",
    auth_mode: str = GatewayTarget.Auth.BOTH,
    kms_key_id: str = "",
    signing_key_id: str = "",
    auto_heal: bool = False,
    require_full_coverage: bool = False,
    access_logging: bool = True,
    access_log_retention_days: int = DEFAULT_RETENTION_DAYS,
    execution_log_level: str = "OFF",
    detailed_metrics: bool = False,
    cloudwatch_role_arn: str = "",
    enforcement: str = GatewayTarget.Enforcement.BACKEND,
    authorizer_arn: str = "",
    authorizer_role_arn: str = "",
) -> GatewayTarget:
    """A new gateway target for the schema; VALIDATION_ERROR (422) names what is wrong."""
    if bool(lambda_arn) == bool(http_url):
        raise ApiError(
            "VALIDATION_ERROR", "Give exactly one backend: a Lambda function ARN or an HTTP URL.", status=422
        )
    _check_authorizer(enforcement, authorizer_arn, authorizer_role_arn)
    logging = {  # stage logging and metrics (stage_settings.py)
        "access_logging": access_logging,
        "access_log_retention_days": access_log_retention_days,
        "execution_log_level": execution_log_level,
        "detailed_metrics": detailed_metrics,
        "cloudwatch_role_arn": cloudwatch_role_arn,
    }
    enforcing = {  # how the pre-check's decisions bind (enforcement.py)
        "enforcement": enforcement,
        "authorizer_arn": authorizer_arn,
        "authorizer_role_arn": authorizer_role_arn,
    }
    target = GatewayTarget(
        name=name,
        schema=schema,
        region=region,
        stage_name=stage_name,
        lambda_arn=lambda_arn,
        http_url=http_url,
        rest_api_id=rest_api_id,
        account_id=account_id,
        endpoint_url=endpoint_url,
        auth_mode=auth_mode,
        kms_key_id=kms_key_id,
        signing_key_id=signing_key_id,
        auto_heal=auto_heal,
        require_full_coverage=require_full_coverage,
        **logging,
        **enforcing,
        created_by=actor,
    )
    _validate(target)
    with transaction.atomic():
        target.save()
        record_event(
            actor=actor,
            action="export.target_created",
            target=target,
            details={
                "name": name,
                "schema": schema.name,
                "region": region,
                "stage": stage_name,
                "rest_api_id": rest_api_id or "(created and owned by gqlgov)",
                "auth_mode": auth_mode,
                "auto_heal": auto_heal,
                **logging,
                **enforcing,
            },
        )
    return target


def _check_authorizer(enforcement: str, authorizer_arn: str, authorizer_role_arn: str) -> None:
    """An authorizer ARN or role only in authorizer mode; a deployed authorizer needs its role."""
    if enforcement != GatewayTarget.Enforcement.AUTHORIZER and (authorizer_arn or authorizer_role_arn):
        raise ApiError(
            "VALIDATION_ERROR",
            "An authorizer ARN or role is for authorizer enforcement only (--enforce authorizer).",
            status=422,
        )
    if enforcement == GatewayTarget.Enforcement.AUTHORIZER and not (authorizer_arn or authorizer_role_arn):
        raise ApiError(
            "VALIDATION_ERROR",
            "Authorizer enforcement needs an existing authorizer function (--authorizer-arn) or the "
            "execution role of the one gqlgov deploys (--authorizer-role-arn).",
            status=422,
        )


def _validate(target: GatewayTarget) -> None:
    """The model's own validation, as VALIDATION_ERROR (422) naming each field's problems."""
    try:
        target.full_clean(exclude=["active_run"])
    except DjangoValidationError as exc:
        details = {field: [str(m) for m in messages] for field, messages in exc.message_dict.items()}
        raise ApiError(
            "VALIDATION_ERROR",
            "The gateway target is invalid: "
            + "; ".join(f"{field}: {' '.join(messages)}" for field, messages in details.items()),
            status=422,
            details={"fields": details},
        ) from exc


def clients_for(target: GatewayTarget) -> tuple[Any, Any]:
    """API Gateway and KMS clients for the target (standard credential chain, standard retries)."""
    options = {
        "region": target.region,
        "endpoint_url": target.endpoint_url,
        "max_attempts": settings.GQLGOV_AWS_MAX_ATTEMPTS,
    }
    return aws_client("apigateway", **options), aws_client("kms", **options)


def lambda_client_for(target: GatewayTarget) -> Any:
    """The Lambda client for the target's functions and their invoke permissions."""
    return aws_client(
        "lambda", region=target.region, endpoint_url=target.endpoint_url, max_attempts=settings.GQLGOV_AWS_MAX_ATTEMPTS
    )


def plan_for(target: GatewayTarget, version: PolicyVersion) -> dict[str, Any]:
    """The desired gateway state of `version` on `target`, against the schema version it is pinned
    to. A target deploying its authorizer needs the verifier package (VERIFIER_PACKAGE_MISSING)."""
    schema_version = lockstep.pinned_schema_version(version)
    deploys_authorizer = target.enforcement == GatewayTarget.Enforcement.AUTHORIZER and not target.authorizer_arn
    return build_plan(
        document=version.document,
        operations=list(schema_version.operations if schema_version else []),
        agents=Principal.objects.all(),
        target=target,
        schema_name=version.schema.name,
        schema_version=schema_version.number if schema_version else 0,
        policy_version=version.number,
        verifier=(
            verifier_package(settings.GQLGOV_AUTHORIZER_ZIP, settings.GQLGOV_PUBLIC_URL) if deploys_authorizer else None
        ),
    )


def lockstep_problems(target: GatewayTarget, version: PolicyVersion) -> dict[str, Any]:
    """Why the version may not be exported now (empty: it may): references naming exactly what its
    schema version lacks (which approval also refuses: a version approved before pinning may have
    them), and ungoverned operations when the target requires full coverage."""
    coverage = policy_coverage(version)
    problems: dict[str, Any] = {}
    stale = [fix.as_dict() for fix in lockstep.fixes_for(version) if fix.blocking]
    if stale:
        problems["stale"] = stale
    if target.require_full_coverage and coverage.ungoverned:
        problems["ungoverned"] = coverage.ungoverned
    return problems
