"""The applier: reads a target's live API Gateway state, diffs it with a plan by content, and
makes the minimum set of calls (patches batched per object, one deployment at the end).

Run with ``dry_run=True`` it makes no mutating call and returns the calls it would make: that
list is the drift report. Calls go through the clients of aws.py, live state is read by live.py,
the agents' API keys and usage plans are kept by usage_plans.py, and the authorizer, its function
and the Lambda invoke permissions by lambdas.py.

Ownership: gqlgov changes only what it owns: the /graphql subtree of the API, usage plans and
API keys tagged ``managed-by: gqlgov`` and ``gqlgov:target: <target>``, its own statements
(Sid prefix ``Gqlgov``) of the resource policy, the API itself when it created it, the
target's stage, the API's ``gqlgov-decision`` authorizer, the function it deploys (tagged like
the rest) and its own statements (``gqlgov-<target>-...``) of the functions' policies.
Everything else is read and left alone.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from policies.gateway.aws import aws_message, error_code, guard_non_idempotent_retries, is_transient, total_attempts
from policies.gateway.lambdas import LambdaParts
from policies.gateway.limits import MAX_STAGES_PER_API, PlanLimitError, Violation
from policies.gateway.live import (
    LiveState,
    desired_policy,
    find_api,
    first,
    normalise_policy,
    or_none,
    pages,
    read_live,
)
from policies.gateway.plan import GRAPHQL_PATH, HTTP_METHOD, api_description, canonical_json
from policies.gateway.stage_applier import StageSettings
from policies.gateway.usage_plans import UsagePlansAndKeys

# A create that failed transiently is tried as many times as botocore tries other calls (each
# time after a re-read, with full-jitter backoff); then the error reaches the task, which requeues
# the run and starts again from live state.
CREATE_BACKOFF_S = 0.2
CREATE_BACKOFF_CAP_S = 5.0

logger = logging.getLogger("gqlgov.export")


@dataclass
class ApplyResult:
    rest_api_id: str | None
    deployed: bool = False
    deployment_id: str = ""
    changes: list[dict[str, Any]] = field(default_factory=list)  # what was (or would be) done
    api_keys: dict[str, str] = field(default_factory=dict)  # agent -> API key id
    warnings: list[str] = field(default_factory=list)  # what the run left undone, and why

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


# A create answered with a conflict after an unanswered attempt: that attempt made it after all.
CONFLICT_CODES = {"ConflictException", "ResourceConflictException"}


class Applier(UsagePlansAndKeys, StageSettings, LambdaParts):
    """One apply (or dry run) of a plan against one API Gateway client (and a Lambda client
    for the enforcement's functions and permissions; without one, API Gateway only)."""

    def __init__(
        self,
        client: Any,
        plan: dict[str, Any],
        *,
        dry_run: bool = False,
        secrets: SecretSource | None = None,
        logs: Any = None,
        lambda_client: Any = None,
    ) -> None:
        self.client = guard_non_idempotent_retries(client)
        self._logs = logs  # CloudWatch Logs, for the access log group (made on first use: stage_applier.py)
        self.lambda_client = guard_non_idempotent_retries(lambda_client) if lambda_client is not None else None
        self._function_arns: dict[str, str] = {}
        self.plan = plan
        self.dry_run = dry_run
        self.secrets = secrets or SecretSource()
        self.result = ApplyResult(rest_api_id=None)
        self.deployable_changed = False
        self._pending = 0

    # Every mutating call goes through here, so a dry run sees exactly what a run would do.
    # A create (NON_IDEMPOTENT_ACTIONS) passes `find`: how to recognise what it creates in the
    # live state, should a transient failure leave open whether the write took effect. `via`:
    # another service's client (CloudWatch Logs, Lambda); default API Gateway's.
    def _call(
        self,
        action: str,
        describe: str,
        *,
        deployable: bool = False,
        find: Callable[[], dict[str, Any] | None] | None = None,
        via: Any = None,
        **params: Any,
    ) -> dict[str, Any]:
        self.result.changes.append({"action": action, "change": describe})
        if deployable:
            self.deployable_changed = True
        if self.dry_run:
            self._pending += 1
            return {"id": f"pending-{self._pending}", "item": []}
        client = via or self.client
        if find is not None:
            return self._create(client, action, describe, find, params)
        try:
            return getattr(client, action)(**params)
        except ClientError as exc:
            # botocore repeated a delete whose first answer was lost: the first one did the work.
            retried = exc.response.get("ResponseMetadata", {}).get("RetryAttempts", 0)
            if action.startswith("delete_") and retried and error_code(exc) == "NotFoundException":
                return {}
            raise

    def _create(
        self,
        client: Any,
        action: str,
        describe: str,
        find: Callable[[], dict[str, Any] | None],
        params: dict[str, Any],
    ) -> dict[str, Any]:
        """Makes the create call; after a transient failure looks for what it would have made
        (the write may have taken effect) and creates again only when it is not there."""
        ambiguous = False
        attempts = total_attempts(client)
        for attempt in range(1, attempts + 1):
            try:
                return getattr(client, action)(**params)
            except (ClientError, BotoCoreError) as exc:
                conflict = ambiguous and error_code(exc) in CONFLICT_CODES
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
                description=api_description(self.plan),
                endpointConfiguration={"types": ["REGIONAL"]},
                apiKeySource="HEADER",
                tags=self._tags(),
                find=lambda: find_api(self.client, plan)[0],
                # No policy at all, not an empty one (authorizer mode, API keys only).
                **({"policy": canonical_json(plan["api"]["policy"])} if plan["api"]["policy"] else {}),
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
        authorizer_id = self._authorizer(live)
        self._routes(live, validator_id, model_name, authorizer_id)
        self._delete_stale_authorizer(live)
        self._lambda_permissions(live)
        self._gateway_responses(live)
        key_ids = self._api_keys(live)
        self._usage_plans(live, key_ids)
        self._stage(live)
        self._stage_settings(live)
        return self.result

    def _tags(self, *, with_version: bool = False) -> dict[str, str]:
        tags = dict(self.plan["tags"])
        if not with_version:
            tags.pop("gqlgov:policy-version", None)
        return tags

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
            if api.get("description") != api_description(self.plan):
                patches.append({"op": "replace", "path": "/description", "value": api_description(self.plan)})
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
                find=lambda: or_none(lambda: self.client.get_model(restApiId=api_id, modelName=model["name"])),
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
                find=lambda: first(
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
            find=lambda: first(pages(self.client, "get_resources", restApiId=live.api["id"], limit=500), path=path),
        )
        resource = {"id": created["id"], "path": path, "resourceMethods": {}}
        live.resources[path] = resource
        return resource

    def _routes(self, live: LiveState, validator_id: str, model_name: str, authorizer_id: str) -> None:
        self._delete_stale_resources(live)
        method = self.plan["method"]
        wanted_method = {
            "authorizationType": method["authorizationType"],
            "apiKeyRequired": method["apiKeyRequired"],
            "requestValidatorId": validator_id,
            "requestModels": method["requestModels"],
            **({"authorizerId": authorizer_id} if authorizer_id else {}),
        }
        for route in self.plan["routes"]:
            self._route(live, route, wanted_method)

    def _delete_stale_resources(self, live: LiveState) -> None:
        """Resources under /graphql that the plan no longer has: deepest first never matters,
        deleting a resource deletes its subtree, so only the topmost stale ones are deleted."""
        wanted_paths = {route["path"] for route in self.plan["routes"]}
        stale = sorted(p for p in live.resources if p.startswith(GRAPHQL_PATH + "/") and p not in wanted_paths)
        for path in stale:
            if any(path.startswith(other + "/") for other in stale if other != path):
                continue
            self._call(
                "delete_resource",
                f"delete resource {path}",
                deployable=True,
                restApiId=live.api["id"],
                resourceId=live.resources[path]["id"],
            )

    def _route(self, live: LiveState, route: dict[str, Any], wanted_method: dict[str, Any]) -> None:
        """One route: its resource, its POST method (the only one) and the backend integration."""
        api_id = live.api["id"]
        integration = self.plan["integration"]
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
            or existing.get("authorizerId") != wanted.get("authorizerId")
        )

    def _find_method(self, api_id: str, resource_id: str) -> Callable[[], dict[str, Any] | None]:
        return lambda: or_none(
            lambda: self.client.get_method(restApiId=api_id, resourceId=resource_id, httpMethod=HTTP_METHOD)
        )

    def _find_deployment(
        self, api_id: str, stage: str, before: str | None, description: str
    ) -> Callable[[], dict[str, Any] | None]:
        """The stage's deployment when it is a new one with this run's description."""

        def find() -> dict[str, Any] | None:
            live_stage = or_none(lambda: self.client.get_stage(restApiId=api_id, stageName=stage))
            deployment_id = (live_stage or {}).get("deploymentId")
            if not deployment_id or deployment_id == before:
                return None
            deployment = or_none(lambda: self.client.get_deployment(restApiId=api_id, deploymentId=deployment_id))
            return deployment if deployment and deployment.get("description") == description else None

        return find

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


def apply_plan(
    client: Any, plan: dict[str, Any], *, secrets: SecretSource | None = None, lambda_client: Any = None
) -> ApplyResult:
    """Brings the target in line with the plan with the fewest calls; a second run makes none."""
    return Applier(client, plan, secrets=secrets, lambda_client=lambda_client).run()


def drift(client: Any, plan: dict[str, Any], *, lambda_client: Any = None) -> list[dict[str, Any]]:
    """What differs between the live gateway and the plan: the calls a run would make (none: no drift)."""
    return Applier(client, plan, dry_run=True, lambda_client=lambda_client).run().changes
