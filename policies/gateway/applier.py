"""The applier: reads a target's live API Gateway state, diffs it with a plan by content, and
makes the minimum set of calls (patches batched per object, one deployment at the end).

Run with ``dry_run=True`` it makes no mutating call and returns the calls it would make: that
list is the drift report. Every call (read or write) goes through botocore's event hooks into a
`CallRecorder`, so a run can show each call with its outcome and a test can count writes.

Ownership: gqlgov changes only what it owns: the /graphql subtree of the API, usage plans and
API keys tagged ``managed-by: gqlgov`` and ``gqlgov:target: <target>``, its own statements
(Sid prefix ``Gqlgov``) of the resource policy, the API itself when it created it, and the
target's stage. Everything else is read and left alone.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ConnectTimeoutError, EndpointConnectionError

from policies.gateway.limits import MAX_STAGES_PER_API, PlanLimitError, Violation
from policies.gateway.plan import GRAPHQL_PATH, HTTP_METHOD, MANAGED_BY, SID_PREFIX, canonical_json

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
DEPLOYABLE = "deployable"
# Answers saying AWS refused the request without acting on it: safe to repeat any call.
THROTTLING_CODES = {"TooManyRequestsException", "ThrottlingException", "Throttling", "LimitExceededException"}
# Calls that create something and carry no idempotency token. When AWS answers 5xx (or the
# connection drops) the write may have taken effect anyway, and a blind repeat makes a twin (a
# second REST API, usage plan, API key, deployment) or fails with a conflict (resource, method,
# model, usage-plan key). botocore repeats them only when AWS refused them (throttling) or the
# request never left; on any other transient failure the applier re-reads what exists before
# creating again (`Applier._create`). Reads, updates (PATCH, PUT integration, tags) and deletes
# stay with botocore's retries.
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
    }
)
# A create that failed transiently is tried as many times as botocore tries other calls (each
# time after a re-read, with full-jitter backoff); then the error reaches the task, which requeues
# the run and starts again from live state.
CREATE_BACKOFF_S = 0.2
CREATE_BACKOFF_CAP_S = 5.0

logger = logging.getLogger("gqlgov.export")


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


def _max_attempts(client: Any) -> int:
    """How many times in all the client's retry configuration lets botocore try a call."""
    retries = client.meta.config.retries or {}
    if retries.get("total_max_attempts"):
        return int(retries["total_max_attempts"])
    return int(retries.get("max_attempts", 2)) + 1  # botocore counts retries here, not attempts


def _error_code(exc: BaseException) -> str:
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
        events.register("before-call", self._before)
        events.register("after-call", self._after)
        events.register("after-call-error", self._after_error)
        return client

    @property
    def mutating(self) -> list[RecordedCall]:
        return [call for call in self.calls if call.mutating]

    def _before(self, model, params, context, **kwargs) -> None:
        context["gqlgov_started"] = time.monotonic()
        context["gqlgov_resource"] = _resource_of(params)

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
        "resourceArn",
        "name",
        "pathPart",
        "KeyId",
    )
    return " ".join(f"{key}={params[key]}" for key in keys if params.get(key))[:500]


# --- Live state ---------------------------------------------------------------------------


@dataclass
class LiveState:
    api: dict[str, Any] | None = None
    api_owned: bool = False
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)  # path -> resource
    validators: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> validator
    models: dict[str, dict[str, Any]] = field(default_factory=dict)
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)
    usage_plans: list[dict[str, Any]] = field(default_factory=list)  # owned by this target
    usage_plan_keys: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # plan id -> keys
    api_keys: list[dict[str, Any]] = field(default_factory=list)  # owned by this target


def _pages(client: Any, operation: str, **params: Any) -> list[dict[str, Any]]:
    return [item for page in client.get_paginator(operation).paginate(**params) for item in page.get("items", [])]


def _owned(tags: dict[str, str] | None, target_name: str) -> bool:
    tags = tags or {}
    return tags.get(MANAGED_BY[0]) == MANAGED_BY[1] and tags.get("gqlgov:target") == target_name


def find_api(client: Any, plan: dict[str, Any]) -> tuple[dict[str, Any] | None, bool]:
    """The target's REST API and whether gqlgov owns it (created it)."""
    target = plan["target"]
    if target["rest_api_id"]:
        api = client.get_rest_api(restApiId=target["rest_api_id"])
        return api, _owned(api.get("tags"), target["name"])
    for api in _pages(client, "get_rest_apis"):
        if _owned(api.get("tags"), target["name"]):
            return api, True
    return None, True


def _or_none(read: Callable[[], dict[str, Any]]) -> dict[str, Any] | None:
    """The read's answer, or None when AWS says the object does not exist."""
    try:
        return read()
    except ClientError as exc:
        if _error_code(exc) == "NotFoundException":
            return None
        raise


def _first(items: list[dict[str, Any]], **match: Any) -> dict[str, Any] | None:
    return next((item for item in items if all(item.get(k) == v for k, v in match.items())), None)


def read_live(client: Any, plan: dict[str, Any], api: dict[str, Any] | None, owned: bool) -> LiveState:
    live = LiveState(api=api, api_owned=owned)
    target_name = plan["target"]["name"]
    if api is not None:
        api_id = api["id"]
        for resource in _pages(client, "get_resources", restApiId=api_id, embed=["methods"], limit=500):
            live.resources[resource["path"]] = resource
        live.validators = {v["name"]: v for v in client.get_request_validators(restApiId=api_id).get("items", [])}
        live.models = {m["name"]: m for m in client.get_models(restApiId=api_id).get("items", [])}
        live.stages = {s["stageName"]: s for s in client.get_stages(restApiId=api_id).get("item", [])}
    live.usage_plans = [p for p in _pages(client, "get_usage_plans") if _owned(p.get("tags"), target_name)]
    for usage_plan in live.usage_plans:
        live.usage_plan_keys[usage_plan["id"]] = _pages(client, "get_usage_plan_keys", usagePlanId=usage_plan["id"])
    live.api_keys = [k for k in _pages(client, "get_api_keys") if _owned(k.get("tags"), target_name)]
    return live


# --- Comparison helpers ---------------------------------------------------------------------


def _listify(value: Any) -> list[Any]:
    return sorted(value) if isinstance(value, list) else [value]


def normalise_policy(policy: Any, api_arn_prefix: str = "") -> dict[str, Any] | None:
    """A resource policy as a comparable dict: parsed (AWS returns it escaped), full execute-api
    ARNs shortened to ``execute-api:/``, one-element lists and strings made the same."""
    if not policy:
        return None
    if isinstance(policy, str):
        try:
            policy = json.loads(policy)
        except ValueError:
            policy = json.loads(policy.replace('\\"', '"'))
    statements = []
    for statement in policy.get("Statement", []):
        statement = dict(statement)
        resources = [
            "execute-api:/" + r.split(":", 5)[5].split("/", 1)[1] if r.startswith("arn:") and "execute-api" in r else r
            for r in _listify(statement.get("Resource", []))
        ]
        statement["Resource"] = sorted(resources)
        principal = statement.get("Principal")
        if isinstance(principal, dict):
            statement["Principal"] = {k: _listify(v) for k, v in principal.items()}
        statement["Action"] = _listify(statement.get("Action", []))
        if "Condition" in statement:
            statement["Condition"] = {
                op: {key: _listify(value) for key, value in values.items()}
                for op, values in statement["Condition"].items()
            }
        statements.append(statement)
    return {
        "Version": policy.get("Version", "2012-10-17"),
        "Statement": sorted(statements, key=canonical_json),
    }


def desired_policy(plan: dict[str, Any], live_policy: Any) -> dict[str, Any] | None:
    """The plan's statements plus every statement of the live policy that gqlgov does not own."""
    mine = plan["api"]["policy"]
    live = normalise_policy(live_policy) or {"Statement": []}
    foreign = [s for s in live["Statement"] if not str(s.get("Sid", "")).startswith(SID_PREFIX)]
    if mine is None and not foreign:
        return None
    return {"Version": "2012-10-17", "Statement": [*(mine or {}).get("Statement", []), *foreign]}


def _same_number(a: Any, b: Any) -> bool:
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return a == b


def _same_throttle(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
    a, b = a or {}, b or {}
    return all(_same_number(a.get(k), b.get(k)) for k in ("rateLimit", "burstLimit"))


def _same_quota(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
    a, b = a or {}, b or {}
    return all(
        _same_number(a.get(k, 0 if k == "offset" else None), b.get(k, 0 if k == "offset" else None))
        for k in ("limit", "period", "offset")
    )


def _patch_number(value: Any) -> str:
    return str(int(value)) if float(value) == int(float(value)) else str(value)


def _same_method_throttles(live: dict[str, Any] | None, desired: dict[str, Any]) -> bool:
    live = live or {}
    return set(live) == set(desired) and all(_same_throttle(live[k], desired[k]) for k in desired)


# --- Applying -------------------------------------------------------------------------------


@dataclass
class ApplyResult:
    rest_api_id: str | None
    deployed: bool = False
    deployment_id: str = ""
    changes: list[dict[str, Any]] = field(default_factory=list)  # what was (or would be) done
    api_keys: dict[str, str] = field(default_factory=dict)  # agent -> API key id

    @property
    def changed(self) -> bool:
        return bool(self.changes)


class SecretSource:
    """Where API key values come from. The default lets API Gateway generate them (gqlgov then
    holds no secret); the service passes one that generates, envelope-encrypts and stores them."""

    def value_for(self, agent: str) -> str | None:
        return None

    def remember_key_id(self, agent: str, key_id: str) -> None:
        return None


class Applier:
    """One apply (or dry run) of a plan against one API Gateway client."""

    def __init__(
        self, client: Any, plan: dict[str, Any], *, dry_run: bool = False, secrets: SecretSource | None = None
    ) -> None:
        self.client = guard_non_idempotent_retries(client)
        self.plan = plan
        self.dry_run = dry_run
        self.secrets = secrets or SecretSource()
        self.result = ApplyResult(rest_api_id=None)
        self.deployable_changed = False
        self._pending = 0

    # Every mutating call goes through here, so a dry run sees exactly what a run would do.
    # A create (NON_IDEMPOTENT_ACTIONS) passes `find`: how to recognise what it creates in the
    # live state, should a transient failure leave open whether the write took effect.
    def _call(
        self,
        action: str,
        describe: str,
        *,
        deployable: bool = False,
        find: Callable[[], dict[str, Any] | None] | None = None,
        **params: Any,
    ) -> dict[str, Any]:
        self.result.changes.append({"action": action, "change": describe})
        if deployable:
            self.deployable_changed = True
        if self.dry_run:
            self._pending += 1
            return {"id": f"pending-{self._pending}", "item": []}
        if find is not None:
            return self._create(action, describe, find, params)
        try:
            return getattr(self.client, action)(**params)
        except ClientError as exc:
            # botocore repeated a delete whose first answer was lost: the first one did the work.
            retried = exc.response.get("ResponseMetadata", {}).get("RetryAttempts", 0)
            if action.startswith("delete_") and retried and _error_code(exc) == "NotFoundException":
                return {}
            raise

    def _create(
        self, action: str, describe: str, find: Callable[[], dict[str, Any] | None], params: dict[str, Any]
    ) -> dict[str, Any]:
        """Makes the create call; after a transient failure looks for what it would have made
        (the write may have taken effect) and creates again only when it is not there."""
        ambiguous = False
        attempts = _max_attempts(self.client)
        for attempt in range(1, attempts + 1):
            try:
                return getattr(self.client, action)(**params)
            except (ClientError, BotoCoreError) as exc:
                # A conflict after an unanswered attempt: that attempt made it after all.
                conflict = ambiguous and _error_code(exc) == "ConflictException"
                if not conflict and (not is_transient(exc) or attempt == attempts):
                    raise
                logger.warning("%s failed (%s); looking for it before trying again", describe, aws_message(exc))
                ambiguous = True
                if not conflict:
                    time.sleep(random.uniform(0, min(CREATE_BACKOFF_CAP_S, CREATE_BACKOFF_S * 2**attempt)))
                found = find()
                if found is not None:
                    logger.info("%s: found what the failed call created", describe)
                    return found
                if conflict:
                    raise
        raise AssertionError("unreachable")

    def run(self) -> ApplyResult:
        plan = self.plan
        api, owned = find_api(self.client, plan)
        if api is None:
            api = self._call(
                "create_rest_api",
                f"create REST API {plan['api']['name']}",
                deployable=True,
                name=plan["api"]["name"],
                description=self._api_description(),
                endpointConfiguration={"types": ["REGIONAL"]},
                apiKeySource="HEADER",
                policy=canonical_json(plan["api"]["policy"]) if plan["api"]["policy"] else None,
                tags=self._tags(),
                find=lambda: find_api(self.client, plan)[0],
            )
            api.setdefault("policy", canonical_json(plan["api"]["policy"]) if plan["api"]["policy"] else None)
            api.setdefault("rootResourceId", "pending-root")
            live = LiveState(api=api, api_owned=True)
            live.resources["/"] = {"id": api.get("rootResourceId"), "path": "/"}
            if not self.dry_run:
                live = read_live(self.client, plan, api, True)
        else:
            live = read_live(self.client, plan, api, owned)
        self.result.rest_api_id = api["id"]
        self._check_stage_limit(live)
        self._api(live)
        model_name = self._model(live)
        validator_id = self._validator(live)
        self._routes(live, validator_id, model_name)
        key_ids = self._api_keys(live)
        self._usage_plans(live, key_ids)
        self._stage(live)
        return self.result

    def _tags(self, *, with_version: bool = False) -> dict[str, str]:
        tags = dict(self.plan["tags"])
        if not with_version:
            tags.pop("gqlgov:policy-version", None)
        return tags

    def _api_description(self) -> str:
        return f"Managed by gqlgov: schema {self.plan['schema']['name']}, target {self.plan['target']['name']}"

    def _check_stage_limit(self, live: LiveState) -> None:
        stage = self.plan["stage"]["name"]
        if stage not in live.stages and len(live.stages) >= MAX_STAGES_PER_API:
            raise PlanLimitError(
                [
                    Violation(
                        "stages_per_api",
                        (
                            f"REST API {live.api['id']} already has {len(live.stages)} stages, "
                            "the most API Gateway allows; "
                            f"remove one or point the target at an existing stage instead of {stage!r}."
                        ),
                    )
                ]
            )

    def _api(self, live: LiveState) -> None:
        api = live.api or {}
        patches = []
        wanted = desired_policy(self.plan, api.get("policy"))
        if normalise_policy(wanted) != normalise_policy(api.get("policy")):
            patches.append({"op": "replace", "path": "/policy", "value": canonical_json(wanted) if wanted else ""})
        if live.api_owned:
            if api.get("name") != self.plan["api"]["name"]:
                patches.append({"op": "replace", "path": "/name", "value": self.plan["api"]["name"]})
            if api.get("description") != self._api_description():
                patches.append({"op": "replace", "path": "/description", "value": self._api_description()})
        if patches:
            self._call(
                "update_rest_api",
                "update " + ", ".join(p["path"] for p in patches) + " of the REST API",
                deployable=True,
                restApiId=api["id"],
                patchOperations=patches,
            )

    def _model(self, live: LiveState) -> str:
        model = self.plan["model"]
        api_id = live.api["id"]
        existing = live.models.get(model["name"])
        schema = canonical_json(model["schema"])
        if existing is None:
            self._call(
                "create_model",
                f"create model {model['name']}",
                deployable=True,
                restApiId=api_id,
                name=model["name"],
                contentType=model["contentType"],
                schema=schema,
                description="gqlgov: a GraphQL request body with a query string",
                find=lambda: _or_none(lambda: self.client.get_model(restApiId=api_id, modelName=model["name"])),
            )
        elif json.loads(existing.get("schema") or "{}") != model["schema"]:
            self._call(
                "update_model",
                f"update the schema of model {model['name']}",
                deployable=True,
                restApiId=api_id,
                modelName=model["name"],
                patchOperations=[{"op": "replace", "path": "/schema", "value": schema}],
            )
        return model["name"]

    def _validator(self, live: LiveState) -> str:
        wanted = self.plan["validator"]
        existing = live.validators.get(wanted["name"])
        if existing is None:
            created = self._call(
                "create_request_validator",
                f"create request validator {wanted['name']}",
                deployable=True,
                restApiId=live.api["id"],
                name=wanted["name"],
                validateRequestBody=wanted["validateRequestBody"],
                validateRequestParameters=wanted["validateRequestParameters"],
                find=lambda: _first(
                    self.client.get_request_validators(restApiId=live.api["id"], limit=500).get("items", []),
                    name=wanted["name"],
                ),
            )
            return created["id"]
        patches = [
            {"op": "replace", "path": f"/{key}", "value": str(wanted[key]).lower()}
            for key in ("validateRequestBody", "validateRequestParameters")
            if bool(existing.get(key)) != wanted[key]
        ]
        if patches:
            self._call(
                "update_request_validator",
                f"update request validator {wanted['name']}",
                deployable=True,
                restApiId=live.api["id"],
                requestValidatorId=existing["id"],
                patchOperations=patches,
            )
        return existing["id"]

    def _delete_method(self, api_id: str, resource: dict[str, Any], http_method: str, label: str) -> None:
        self._call(
            "delete_method",
            label,
            deployable=True,
            restApiId=api_id,
            resourceId=resource["id"],
            httpMethod=http_method,
        )

    def _ensure_resource(self, live: LiveState, path: str) -> dict[str, Any]:
        if path in live.resources:
            return live.resources[path]
        parent_path, _, part = path.rpartition("/")
        parent = self._ensure_resource(live, parent_path or "/")
        created = self._call(
            "create_resource",
            f"create resource {path}",
            deployable=True,
            restApiId=live.api["id"],
            parentId=parent["id"],
            pathPart=part,
            find=lambda: _first(_pages(self.client, "get_resources", restApiId=live.api["id"], limit=500), path=path),
        )
        resource = {"id": created["id"], "path": path, "resourceMethods": {}}
        live.resources[path] = resource
        return resource

    def _routes(self, live: LiveState, validator_id: str, model_name: str) -> None:
        api_id = live.api["id"]
        wanted_paths = {route["path"] for route in self.plan["routes"]}
        # Resources under /graphql that the plan no longer has: deepest first never matters,
        # deleting a resource deletes its subtree, so delete only the topmost stale ones.
        stale = sorted(p for p in live.resources if p.startswith(GRAPHQL_PATH + "/") and p not in wanted_paths)
        for path in stale:
            if any(path.startswith(other + "/") for other in stale if other != path):
                continue
            self._call(
                "delete_resource",
                f"delete resource {path}",
                deployable=True,
                restApiId=api_id,
                resourceId=live.resources[path]["id"],
            )
        method = self.plan["method"]
        integration = self.plan["integration"]
        wanted_method = {
            "authorizationType": method["authorizationType"],
            "apiKeyRequired": method["apiKeyRequired"],
            "requestValidatorId": validator_id,
            "requestModels": method["requestModels"],
        }
        for route in self.plan["routes"]:
            resource = self._ensure_resource(live, route["path"])
            methods = resource.get("resourceMethods") or {}
            for other in sorted(set(methods) - {HTTP_METHOD}):
                self._delete_method(api_id, resource, other, f"delete method {other} {route['path']}")
            existing = methods.get(HTTP_METHOD)
            if existing is not None and self._method_differs(existing, wanted_method):
                # Some fields (authorization, models) need the method re-created; moto has no
                # UpdateMethod at all, and a re-put keeps both worlds on one code path.
                self._delete_method(api_id, resource, HTTP_METHOD, f"re-create method {HTTP_METHOD} {route['path']}")
                existing = None
            if existing is None:
                self._call(
                    "put_method",
                    f"put method {HTTP_METHOD} {route['path']}",
                    deployable=True,
                    restApiId=api_id,
                    resourceId=resource["id"],
                    httpMethod=HTTP_METHOD,
                    operationName=route["operation"] or "graphql",
                    find=self._find_method(api_id, resource["id"]),
                    **wanted_method,
                )
            live_integration = (existing or {}).get("methodIntegration") or {}
            if existing is None or any(
                live_integration.get(key) != integration[key] for key in ("type", "httpMethod", "uri")
            ):
                self._call(
                    "put_integration",
                    f"put {integration['type']} integration on {route['path']}",
                    deployable=True,
                    restApiId=api_id,
                    resourceId=resource["id"],
                    httpMethod=HTTP_METHOD,
                    type=integration["type"],
                    integrationHttpMethod=integration["httpMethod"],
                    uri=integration["uri"],
                )

    @staticmethod
    def _method_differs(existing: dict[str, Any], wanted: dict[str, Any]) -> bool:
        return (
            existing.get("authorizationType") != wanted["authorizationType"]
            or bool(existing.get("apiKeyRequired")) != wanted["apiKeyRequired"]
            or existing.get("requestValidatorId") != wanted["requestValidatorId"]
            or (existing.get("requestModels") or {}) != wanted["requestModels"]
        )

    def _api_keys(self, live: LiveState) -> dict[str, str]:
        wanted = {plan["api_key"]["name"]: plan for plan in self.plan["usage_plans"]}
        key_ids: dict[str, str] = {}
        by_name: dict[str, list[dict[str, Any]]] = {}
        for key in live.api_keys:
            by_name.setdefault(key["name"], []).append(key)
        for name, keys in sorted(by_name.items()):
            keep = keys[0] if name in wanted else None
            for key in keys:
                if key is not keep:
                    self._call("delete_api_key", f"delete API key {name} ({key['id']})", apiKey=key["id"])
            if keep is not None:
                key_ids[name] = keep["id"]
                if not keep.get("enabled"):
                    self._call(
                        "update_api_key",
                        f"enable API key {name}",
                        apiKey=keep["id"],
                        patchOperations=[{"op": "replace", "path": "/enabled", "value": "true"}],
                    )
        for name, usage_plan in sorted(wanted.items()):
            if name in key_ids:
                continue
            params: dict[str, Any] = {
                "name": name,
                "description": usage_plan["api_key"]["description"],
                "enabled": True,
                "tags": self._tags(),
            }
            value = None if self.dry_run else self.secrets.value_for(usage_plan["agent"])
            if value:
                params["value"] = value
            created = self._call("create_api_key", f"create API key {name}", find=self._find_api_key(name), **params)
            key_ids[name] = created["id"]
            if not self.dry_run:
                self.secrets.remember_key_id(usage_plan["agent"], created["id"])
        self.result.api_keys = {p["agent"]: key_ids[p["api_key"]["name"]] for p in self.plan["usage_plans"]}
        return key_ids

    def _usage_plans(self, live: LiveState, key_ids: dict[str, str]) -> None:
        api_id = live.api["id"]
        stage = self.plan["stage"]["name"]
        wanted = {plan["name"]: plan for plan in self.plan["usage_plans"]}
        by_name: dict[str, list[dict[str, Any]]] = {}
        for usage_plan in live.usage_plans:
            by_name.setdefault(usage_plan["name"], []).append(usage_plan)
        to_create: dict[str, dict[str, Any] | None] = {name: None for name in wanted if name not in by_name}
        for name, plans in sorted(by_name.items()):
            desired = wanted.get(name)
            if desired is None:
                for usage_plan in plans:
                    self._delete_usage_plan(usage_plan, live)
                continue
            # A replaced plan can leave a twin behind if a run died between create and delete:
            # keep the one whose per-method throttles already match, delete the others.
            plans = sorted(plans, key=lambda p: 0 if self._stage_matches(p, api_id, stage, desired) else 1)
            keep, extra = plans[0], plans[1:]
            for usage_plan in extra:
                self._delete_usage_plan(usage_plan, live)
            if not self._stage_matches(keep, api_id, stage, desired):
                # moto cannot patch per-method throttles; a new plan carries them exactly, and the
                # key moves over before the old plan goes, so the agent is never without a plan.
                to_create[name] = keep
                continue
            patches = self._usage_plan_patches(keep, desired)
            if patches:
                self._call(
                    "update_usage_plan",
                    f"update usage plan {name}: " + ", ".join(p["path"] for p in patches),
                    usagePlanId=keep["id"],
                    patchOperations=patches,
                )
            self._usage_plan_keys(
                keep["id"],
                live.usage_plan_keys.get(keep["id"], []),
                key_ids[desired["api_key"]["name"]],
                name,
            )
        for name, replaced in sorted(to_create.items()):
            desired = wanted[name]
            params: dict[str, Any] = {
                "name": name,
                "description": desired["description"],
                "tags": self._tags(),
                "apiStages": [
                    {
                        "apiId": api_id,
                        "stage": stage,
                        **({"throttle": desired["method_throttles"]} if desired["method_throttles"] else {}),
                    }
                ],
            }
            if desired["throttle"]:
                params["throttle"] = desired["throttle"]
            if desired["quota"]:
                params["quota"] = desired["quota"]
            verb = "replace" if replaced else "create"
            known = {usage_plan["id"] for usage_plan in live.usage_plans}
            created = self._call(
                "create_usage_plan", f"{verb} usage plan {name}", find=self._find_usage_plan(name, known), **params
            )
            if replaced is not None:
                for key in live.usage_plan_keys.get(replaced["id"], []):
                    self._call(
                        "delete_usage_plan_key",
                        f"move key {key['id']} off the replaced usage plan {name}",
                        usagePlanId=replaced["id"],
                        keyId=key["id"],
                    )
            self._usage_plan_keys(created["id"], [], key_ids[desired["api_key"]["name"]], name)
            if replaced is not None:
                self._call(
                    "delete_usage_plan",
                    f"delete the replaced usage plan {name} ({replaced['id']})",
                    usagePlanId=replaced["id"],
                )

    def _find_method(self, api_id: str, resource_id: str) -> Callable[[], dict[str, Any] | None]:
        return lambda: _or_none(
            lambda: self.client.get_method(restApiId=api_id, resourceId=resource_id, httpMethod=HTTP_METHOD)
        )

    def _find_api_key(self, name: str) -> Callable[[], dict[str, Any] | None]:
        target = self.plan["target"]["name"]
        return lambda: next(
            (
                key
                for key in _pages(self.client, "get_api_keys")
                if key.get("name") == name and _owned(key.get("tags"), target)
            ),
            None,
        )

    def _find_usage_plan(self, name: str, known: set[str]) -> Callable[[], dict[str, Any] | None]:
        """A plan of that name that the live state did not have (a replaced plan keeps its name)."""
        target = self.plan["target"]["name"]
        return lambda: next(
            (
                usage_plan
                for usage_plan in _pages(self.client, "get_usage_plans")
                if usage_plan.get("name") == name
                and usage_plan["id"] not in known
                and _owned(usage_plan.get("tags"), target)
            ),
            None,
        )

    def _find_deployment(
        self, api_id: str, stage: str, before: str | None, description: str
    ) -> Callable[[], dict[str, Any] | None]:
        """The stage's deployment when it is a new one with this run's description."""

        def find() -> dict[str, Any] | None:
            live_stage = _or_none(lambda: self.client.get_stage(restApiId=api_id, stageName=stage))
            deployment_id = (live_stage or {}).get("deploymentId")
            if not deployment_id or deployment_id == before:
                return None
            deployment = _or_none(lambda: self.client.get_deployment(restApiId=api_id, deploymentId=deployment_id))
            return deployment if deployment and deployment.get("description") == description else None

        return find

    @staticmethod
    def _stage_matches(usage_plan: dict[str, Any], api_id: str, stage: str, desired: dict[str, Any]) -> bool:
        stages = usage_plan.get("apiStages") or []
        if len(stages) != 1 or stages[0].get("apiId") != api_id or stages[0].get("stage") != stage:
            return False
        return _same_method_throttles(stages[0].get("throttle"), desired["method_throttles"])

    def _usage_plan_patches(self, live_plan: dict[str, Any], desired: dict[str, Any]) -> list[dict[str, Any]]:
        patches: list[dict[str, Any]] = []
        if live_plan.get("description") != desired["description"]:
            patches.append({"op": "replace", "path": "/description", "value": desired["description"]})
        if not _same_throttle(live_plan.get("throttle"), desired["throttle"]):
            if desired["throttle"]:
                patches += [
                    {
                        "op": "replace",
                        "path": f"/throttle/{key}",
                        "value": _patch_number(desired["throttle"][key]),
                    }
                    for key in ("rateLimit", "burstLimit")
                ]
            else:
                patches.append({"op": "remove", "path": "/throttle"})
        if not _same_quota(live_plan.get("quota"), desired["quota"]):
            if desired["quota"]:
                patches += [
                    {"op": "replace", "path": "/quota/limit", "value": str(desired["quota"]["limit"])},
                    {"op": "replace", "path": "/quota/period", "value": desired["quota"]["period"]},
                ]
            else:
                patches.append({"op": "remove", "path": "/quota"})
        return patches

    def _usage_plan_keys(self, plan_id: str, live_keys: list[dict[str, Any]], key_id: str, name: str) -> None:
        for key in live_keys:
            if key["id"] != key_id:
                self._call(
                    "delete_usage_plan_key",
                    f"remove key {key['id']} from usage plan {name}",
                    usagePlanId=plan_id,
                    keyId=key["id"],
                )
        if not any(key["id"] == key_id for key in live_keys):
            self._call(
                "create_usage_plan_key",
                f"add the API key to usage plan {name}",
                usagePlanId=plan_id,
                keyId=key_id,
                keyType="API_KEY",
                find=lambda: _first(_pages(self.client, "get_usage_plan_keys", usagePlanId=plan_id), id=key_id),
            )

    def _delete_usage_plan(self, usage_plan: dict[str, Any], live: LiveState) -> None:
        for key in live.usage_plan_keys.get(usage_plan["id"], []):
            self._call(
                "delete_usage_plan_key",
                f"remove key {key['id']} from usage plan {usage_plan['name']}",
                usagePlanId=usage_plan["id"],
                keyId=key["id"],
            )
        self._call(
            "delete_usage_plan",
            f"delete usage plan {usage_plan['name']} ({usage_plan['id']})",
            usagePlanId=usage_plan["id"],
        )

    def _stage(self, live: LiveState) -> None:
        stage = self.plan["stage"]
        live_stage = live.stages.get(stage["name"])
        variables = stage["variables"]
        api_id = live.api["id"]
        if live_stage is None or self.deployable_changed or (live_stage.get("variables") or {}) != variables:
            version = self.plan["policy_version"]
            description = (
                f"gqlgov: {self.plan['schema']['name']} policy v{version}, plan {variables['gqlgov_plan_hash'][:12]}"
            )
            deployment = self._call(
                "create_deployment",
                f"deploy stage {stage['name']} (policy v{version})",
                restApiId=api_id,
                stageName=stage["name"],
                variables=variables,
                description=description,
                find=self._find_deployment(api_id, stage["name"], (live_stage or {}).get("deploymentId"), description),
            )
            self.result.deployed = True
            self.result.deployment_id = deployment.get("id", "")
            live_tags: dict[str, str] = {}  # a new deployment may replace the stage (moto does)
        else:
            live_tags = live_stage.get("tags") or {}
        wanted_tags = self._tags(with_version=True)
        if any(live_tags.get(k) != v for k, v in wanted_tags.items()):
            region = self.plan["target"]["region"]
            self._call(
                "tag_resource",
                f"tag stage {stage['name']}",
                resourceArn=f"arn:aws:apigateway:{region}::/restapis/{api_id}/stages/{stage['name']}",
                tags=wanted_tags,
            )


def apply_plan(client: Any, plan: dict[str, Any], *, secrets: SecretSource | None = None) -> ApplyResult:
    """Brings the target in line with the plan with the fewest calls; a second run makes none."""
    return Applier(client, plan, secrets=secrets).run()


def drift(client: Any, plan: dict[str, Any]) -> list[dict[str, Any]]:
    """What differs between the live gateway and the plan: the calls a run would make (none: no drift)."""
    return Applier(client, plan, dry_run=True).run().changes
