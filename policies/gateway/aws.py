"""The AWS client of the export: boto3 clients on the standard credential chain, which errors
are transient, the guard against blind retries of creates, and the recorder that sees every call.

Every call (read or write) goes through botocore's event hooks into a `CallRecorder`, so a run
can show each call with its outcome and a test can count writes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ConnectTimeoutError, EndpointConnectionError

READ_PREFIXES = ("Get", "List", "Describe")
# KMS cryptographic calls change no AWS state (RotateKeyOnDemand does, and counts as a write).
STATELESS_ACTIONS = {"Sign", "Verify", "Encrypt", "Decrypt", "ReEncrypt", "GenerateDataKey", "GenerateRandom"}
# Transient: retried by botocore (standard mode: exponential backoff with jitter; creates only
# when refused, see NON_IDEMPOTENT_ACTIONS) and, when botocore gives up, by the Celery task.
# Everything else fails the run with AWS's message.
TRANSIENT_CODES = {
    "TooManyRequestsException",
    "ThrottlingException",
    "Throttling",
    "LimitExceededException",
    "ServiceUnavailableException",
    "InternalFailure",
    "InternalServerError",
    "RequestTimeout",
}
# Answers saying AWS refused the request without acting on it: safe to repeat any call.
THROTTLING_CODES = {"TooManyRequestsException", "ThrottlingException", "Throttling", "LimitExceededException"}
# Calls that create something and carry no idempotency token. When AWS answers 5xx (or the
# connection drops) the write may have taken effect anyway, and a blind repeat makes a twin (a
# second REST API, usage plan, API key, deployment, authorizer) or fails with a conflict
# (resource, method, model, usage-plan key, Lambda function, permission). botocore repeats them
# only when AWS refused them (throttling) or the request never left; on any other transient
# failure the applier re-reads what exists before creating again (`Applier._create`). Reads,
# updates (PATCH, PUT integration, tags) and deletes stay with botocore's retries.
NON_IDEMPOTENT_ACTIONS = frozenset(
    {
        "CreateRestApi",
        "CreateResource",
        "PutMethod",
        "CreateModel",
        "CreateRequestValidator",
        "CreateApiKey",
        "CreateUsagePlan",
        "CreateUsagePlanKey",
        "CreateDeployment",
        "CreateAuthorizer",
        "CreateFunction",
        "AddPermission",
    }
)


def aws_client(service: str, *, region: str, endpoint_url: str = "", max_attempts: int = 8) -> Any:
    """A boto3 client on the standard credential chain, with botocore's standard retry mode."""
    config = Config(retries={"mode": "standard", "max_attempts": max_attempts}, connect_timeout=5, read_timeout=30)
    return boto3.session.Session().client(service, region_name=region, endpoint_url=endpoint_url or None, config=config)


def guard_non_idempotent_retries(client: Any) -> Any:
    """The client, with botocore's automatic retry of NON_IDEMPOTENT_ACTIONS limited to requests
    AWS refused (throttling) or that never reached it. Safe to call more than once."""
    service_model = client.meta.service_model
    service = service_model.service_id.hyphenize()
    for action in sorted(NON_IDEMPOTENT_ACTIONS & set(service_model.operation_names)):
        client.meta.events.register_first(
            f"needs-retry.{service}.{action}",
            _retry_only_if_refused,
            unique_id=f"gqlgov-no-blind-retry-{service}-{action}",
        )
    return client


def _retry_only_if_refused(response: Any = None, caught_exception: Any = None, **kwargs: Any) -> bool | None:
    """A ``needs-retry`` handler that runs before botocore's own: False forbids the retry (botocore
    treats a False answer as "do not retry"), None leaves the decision to botocore."""
    if caught_exception is not None:
        # Could not connect: the request never left, a repeat is safe. A read timeout or a
        # dropped connection may follow a write that took effect.
        never_sent = isinstance(caught_exception, (EndpointConnectionError, ConnectTimeoutError))
        return None if never_sent else False
    if response is None:
        return None
    http_response, parsed = response
    if http_response.status_code < 300:
        return None
    code = (parsed or {}).get("Error", {}).get("Code")
    return None if http_response.status_code == 429 or code in THROTTLING_CODES else False


def total_attempts(client: Any) -> int:
    """How many times in all the client's retry configuration lets botocore try a call."""
    retries = client.meta.config.retries or {}
    if retries.get("total_max_attempts"):
        return int(retries["total_max_attempts"])
    return int(retries.get("max_attempts", 2)) + 1  # botocore counts retries here, not attempts


def error_code(exc: BaseException) -> str:
    return exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else ""


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return error.get("Code") in TRANSIENT_CODES or status >= 500 or status == 429
    return isinstance(exc, BotoCoreError)


def aws_message(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'Error')}: {error.get('Message', '')} ({exc.operation_name})"
    return f"{type(exc).__name__}: {exc}"


# --- Recording every call ----------------------------------------------------------------


@dataclass
class RecordedCall:
    service: str
    action: str
    resource: str
    outcome: str
    duration_ms: int
    mutating: bool
    retries: int = 0
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class CallRecorder:
    """Records each API call of the clients it is attached to, through botocore's
    ``before-call`` / ``after-call`` / ``after-call-error`` events."""

    def __init__(self, on_call: Callable[[RecordedCall], None] | None = None) -> None:
        self.calls: list[RecordedCall] = []
        self.on_call = on_call

    def attach(self, client: Any) -> Any:
        events = client.meta.events
        region = client.meta.region_name or ""

        def name_resource(params, context, **kwargs) -> None:
            # The call's own parameters (by "before-call" they are serialised into a request); a
            # listing names none, so it is named by what it lists: the account in the region.
            context["gqlgov_resource"] = _resource_of(params) or f"account-wide in {region}"

        events.register("before-parameter-build", name_resource)
        events.register("before-call", self._before)
        events.register("after-call", self._after)
        events.register("after-call-error", self._after_error)
        return client

    @property
    def mutating(self) -> list[RecordedCall]:
        return [call for call in self.calls if call.mutating]

    def _before(self, model, params, context, **kwargs) -> None:
        context["gqlgov_started"] = time.monotonic()

    def _record(self, model, context, outcome: str, retries: int = 0, error: str = "") -> None:
        started = context.get("gqlgov_started", time.monotonic())
        call = RecordedCall(
            service=model.service_model.service_name,
            action=model.name,
            resource=context.get("gqlgov_resource", ""),
            outcome=outcome,
            duration_ms=int((time.monotonic() - started) * 1000),
            mutating=not (model.name.startswith(READ_PREFIXES) or model.name in STATELESS_ACTIONS),
            retries=retries,
            error=error,
        )
        self.calls.append(call)
        if self.on_call:
            self.on_call(call)

    def _after(self, http_response, parsed, model, context, **kwargs) -> None:
        retries = parsed.get("ResponseMetadata", {}).get("RetryAttempts", 0)
        error = parsed.get("Error")
        if error:
            self._record(model, context, "error", retries, f"{error.get('Code')}: {error.get('Message', '')}")
        else:
            self._record(model, context, "ok", retries)

    def _after_error(self, model, context, exception, **kwargs) -> None:
        self._record(model, context, "error", 0, f"{type(exception).__name__}: {exception}")


def _resource_of(params: dict[str, Any]) -> str:
    keys = (
        "restApiId",
        "resourceId",
        "httpMethod",
        "stageName",
        "usagePlanId",
        "keyId",
        "apiKey",
        "requestValidatorId",
        "modelName",
        "authorizerId",
        "FunctionName",
        "StatementId",
        "resourceArn",
        "name",
        "pathPart",
        "KeyId",
        "logGroupName",
        "logGroupNamePrefix",
        "responseType",
    )
    return " ".join(f"{key}={params[key]}" for key in keys if params.get(key))[:500]
