"""The enforcement side of an export (`Applier` is made of this, usage_plans.py and applier.py):
the authorizer function gqlgov deploys (``gqlgov-decision-<target>``), the REST API's REQUEST
authorizer, and the ``lambda:InvokeFunction`` permissions API Gateway needs to call the backend
and the authorizer. Each is read, compared by content and changed through the applier's `_call`.

Without a Lambda client the applier manages API Gateway only (no function, no permissions; an
authorizer given by ARN is still put on the API); the export service always passes one.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

from gqlgov.errors import ApiError
from policies.gateway.applier_part import ApplierPart
from policies.gateway.enforcement import ACCOUNT_ID, AUTHORIZER_NAME, REST_API_ID, invocation_uri
from policies.gateway.live import LiveState, first, is_owned, or_none
from policies.gateway.plan_basics import account_of

TTL = "authorizerResultTtlInSeconds"


def code_sha256(data: bytes) -> str:
    """A zip's hash as Lambda reports it (CodeSha256: base64 of the SHA-256 digest)."""
    return base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")


class LambdaParts(ApplierPart):
    """The applier's authorizer, authorizer function and invoke permissions. It reads the
    applier's `plan`, `client`, `lambda_client` and `dry_run`, and changes through `_call`
    (`via=self.lambda_client` for Lambda)."""

    lambda_client: Any
    _function_arns: dict[str, str]  # function name or ARN in the plan -> its ARN

    def _authorizer(self, live: LiveState) -> str:
        """The id of the API's gqlgov-decision authorizer, created or brought in line with the
        plan ("" when the plan has none)."""
        wanted = self.plan["authorizer"]
        if wanted is None:
            return ""
        api_id = live.api["id"]
        function_arn = wanted["function_arn"] or self._function()
        fields = {
            "type": wanted["type"],
            "authorizerUri": invocation_uri(self.plan["target"]["region"], function_arn),
            "identitySource": wanted["identitySource"],
            TTL: wanted[TTL],
        }
        existing = live.authorizers.get(wanted["name"])
        if existing is None:
            created = self._call(
                "create_authorizer",
                f"create REQUEST authorizer {wanted['name']}",
                deployable=True,
                restApiId=api_id,
                name=wanted["name"],
                find=lambda: first(
                    self.client.get_authorizers(restApiId=api_id, limit=500).get("items", []), name=wanted["name"]
                ),
                **fields,
            )
            return created["id"]
        # An absent TTL is API Gateway leaving out a zero.
        patches = [
            {"op": "replace", "path": f"/{key}", "value": str(value)}
            for key, value in fields.items()
            if str(existing.get(key, 0 if key == TTL else None)) != str(value)
        ]
        if patches:
            self._call(
                "update_authorizer",
                f"update authorizer {wanted['name']}: " + ", ".join(p["path"] for p in patches),
                deployable=True,
                restApiId=api_id,
                authorizerId=existing["id"],
                patchOperations=patches,
            )
        return existing["id"]

    def _delete_stale_authorizer(self, live: LiveState) -> None:
        """gqlgov's authorizer when the plan has none (after the methods stopped using it)."""
        existing = live.authorizers.get(AUTHORIZER_NAME)
        if self.plan["authorizer"] is None and existing is not None:
            self._call(
                "delete_authorizer",
                f"delete authorizer {AUTHORIZER_NAME}",
                deployable=True,
                restApiId=live.api["id"],
                authorizerId=existing["id"],
            )

    def _function(self) -> str:
        """The ARN of the authorizer function gqlgov deploys, created or brought in line."""
        spec = self.plan["lambda"]["function"]
        if self.lambda_client is None:
            raise ValueError(f"deploying the authorizer function {spec['name']} needs a Lambda client")
        name = spec["name"]
        config = {
            "Runtime": spec["runtime"],
            "Handler": spec["handler"],
            "Role": spec["role"],
            "Timeout": spec["timeout"],
            "MemorySize": spec["memory"],
            "Description": spec["description"],
            "Environment": {"Variables": spec["environment"]},
        }
        live = or_none(lambda: self.lambda_client.get_function(FunctionName=name))
        if live is None:
            created = self._call(
                "create_function",
                f"create Lambda function {name} ({spec['handler']})",
                via=self.lambda_client,
                find=lambda: (or_none(lambda: self.lambda_client.get_function(FunctionName=name)) or {}).get(
                    "Configuration"
                ),
                FunctionName=name,
                Code={"ZipFile": self._package(spec)},
                Tags=self._tags(),
                **config,
            )
            return self._remember(name, created.get("FunctionArn") or self._pending_arn(name))
        if not is_owned(live.get("Tags"), self.plan["target"]["name"]):
            raise ApiError(
                "NOT_OWNED",
                f"A Lambda function {name} exists that gqlgov did not create for target "
                f"{self.plan['target']['name']}; delete or rename it, or give the target --authorizer-arn.",
                status=409,
            )
        current = live["Configuration"]
        live_config = {**{key: current.get(key) for key in config}, "Environment": {"Variables": {}}}
        live_config["Environment"]["Variables"] = (current.get("Environment") or {}).get("Variables") or {}
        differs = sorted(key for key in config if live_config[key] != config[key])
        if differs:
            self._call(
                "update_function_configuration",
                f"update {', '.join(differs)} of Lambda function {name}",
                via=self.lambda_client,
                FunctionName=name,
                **config,
            )
        if current.get("CodeSha256") != spec["code"]["sha256"]:
            if differs and not self.dry_run:
                # Lambda refuses a second update while the first is in progress.
                self.lambda_client.get_waiter("function_updated_v2").wait(FunctionName=name)
            self._call(
                "update_function_code",
                f"update the code of Lambda function {name}",
                via=self.lambda_client,
                FunctionName=name,
                ZipFile=self._package(spec),
            )
        return self._remember(name, current["FunctionArn"])

    def _remember(self, function: str, arn: str) -> str:
        self._function_arns[function] = arn
        return arn

    def _pending_arn(self, name: str) -> str:
        target = self.plan["target"]
        return f"arn:aws:lambda:{target['region']}:{target['account_id'] or 'pending'}:function:{name}"

    @staticmethod
    def _package(spec: dict[str, Any]) -> bytes:
        """The zip named by the plan, refused when it is not the one the plan was made with."""
        data = Path(spec["code"]["zip_file"]).read_bytes()
        if code_sha256(data) != spec["code"]["sha256"]:
            raise ApiError(
                "PACKAGE_CHANGED",
                f"{spec['code']['zip_file']} changed after the plan was made; export again.",
                status=409,
            )
        return data

    def _lambda_permissions(self, live: LiveState) -> None:
        """Each function API Gateway calls may be invoked by this API (and only it, by SourceArn)."""
        if self.lambda_client is None:
            return
        for permission in self.plan["lambda"]["permissions"]:
            function = permission["function"]
            arn = self._function_arns.get(function, function)
            source_arn = (
                permission["source_arn"].replace(REST_API_ID, live.api["id"]).replace(ACCOUNT_ID, account_of(arn))
            )
            sid = permission["statement_id"]
            statement = self._permission_statement(function, sid)
            if statement is not None and _same_permission(statement, permission, source_arn):
                continue
            if statement is not None:
                self._call(
                    "remove_permission",
                    f"remove the outdated permission {sid} of {function}",
                    via=self.lambda_client,
                    FunctionName=function,
                    StatementId=sid,
                )
            self._call(
                "add_permission",
                f"add lambda:InvokeFunction permission {sid} on {function} for {source_arn}",
                via=self.lambda_client,
                find=lambda function=function, sid=sid: self._permission_statement(function, sid),
                FunctionName=function,
                StatementId=sid,
                Action=permission["action"],
                Principal=permission["principal"],
                SourceArn=source_arn,
            )

    def _permission_statement(self, function: str, sid: str) -> dict[str, Any] | None:
        answer = or_none(lambda: self.lambda_client.get_policy(FunctionName=function))
        statements = json.loads(answer["Policy"]).get("Statement", []) if answer else []
        return first(statements, Sid=sid)


def _same_permission(statement: dict[str, Any], wanted: dict[str, Any], source_arn: str) -> bool:
    principal = statement.get("Principal")
    service = principal.get("Service") if isinstance(principal, dict) else principal
    condition = (statement.get("Condition") or {}).get("ArnLike") or {}
    return (
        statement.get("Effect") == "Allow"
        and statement.get("Action") in (wanted["action"], [wanted["action"]])
        and service in (wanted["principal"], [wanted["principal"]])
        and condition.get("AWS:SourceArn") == source_arn
    )
