"""The applier's gateway responses and stage logging: the plan's ``gateway_responses`` and
``stage.logging`` (stage_settings.py) made live, diffed by content like the rest.

- gateway responses: PutGatewayResponse for each planned type whose status or template
  differs (deployable: API Gateway serves them from the deployment); other types are left alone;
- the access log group: CreateLogGroup (tagged) and PutRetentionPolicy / DeleteRetentionPolicy
  on the CloudWatch Logs client;
- the account's CloudWatch role: UpdateAccount, only when the target names one and the account
  has none (the role is shared by every API of the account and region);
- the stage: one UpdateStage with the access log settings and the ``*/*`` method settings
  (execution log level, detailed metrics, and data tracing kept off: it would log bodies).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from botocore.exceptions import ClientError

from policies.gateway.applier_part import ApplierPart
from policies.gateway.aws import aws_client, error_code, total_attempts
from policies.gateway.live import LiveState, or_none
from policies.gateway.stage_settings import ALL_METHODS, needs_cloudwatch_role

logger = logging.getLogger("gqlgov.export")


def logs_client_like(apigateway: Any) -> Any:
    """A CloudWatch Logs client for the API Gateway client's region, with its retry budget, on
    its endpoint when that is a stand-in (moto, LocalStack) rather than AWS's own."""
    meta = apigateway.meta
    host = urlsplit(meta.endpoint_url).hostname or ""
    on_aws = ".amazonaws.com" in host  # regional, FIPS, China: the logs client finds its own
    return aws_client(
        "logs",
        region=meta.region_name,
        endpoint_url="" if on_aws else meta.endpoint_url,
        max_attempts=max(total_attempts(apigateway) - 1, 1),
    )


def _pending(live: LiveState) -> bool:
    """The API exists only in a dry run's imagination: there is nothing to read."""
    return str((live.api or {}).get("id", "")).startswith("pending-")


def _bool(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


class StageSettings(ApplierPart):
    """Mixed into the applier. It reads the applier's `plan`, `client`, `dry_run` and `result`,
    and makes every change through its `_call` (`via=self.logs` for CloudWatch Logs)."""

    _logs: Any

    @property
    def logs(self) -> Any:
        """The CloudWatch Logs client: the one given, or one like the API Gateway client."""
        if self._logs is None:
            self._logs = logs_client_like(self.client)
        return self._logs

    def _gateway_responses(self, live: LiveState) -> None:
        """Puts each planned gateway response whose status or template differs from the live one."""
        api_id = live.api["id"]
        existing: dict[str, dict[str, Any]] = {}
        if not _pending(live):
            items = self.client.get_gateway_responses(restApiId=api_id, limit=500).get("items", [])
            existing = {item["responseType"]: item for item in items}
        for response_type, wanted in self.plan.get("gateway_responses", {}).items():
            current = existing.get(response_type) or {}
            same = (current.get("responseTemplates") or {}) == wanted["responseTemplates"] and (
                "statusCode" not in wanted or str(current.get("statusCode")) == wanted["statusCode"]
            )
            if current and same:
                continue
            self._call(
                "put_gateway_response",
                f"put gateway response {response_type}",
                deployable=True,
                restApiId=api_id,
                responseType=response_type,
                responseTemplates=wanted["responseTemplates"],
                **({"statusCode": wanted["statusCode"]} if "statusCode" in wanted else {}),
            )

    def _stage_settings(self, live: LiveState) -> None:
        """The access log group, the account's CloudWatch role and one patch of the stage."""
        logging_plan = self.plan["stage"].get("logging")
        if not logging_plan:
            return
        destination = self._access_log_group(logging_plan["access_log"])
        can_log = self._cloudwatch_role(logging_plan)
        if needs_cloudwatch_role(logging_plan) and not can_log:
            warning = (
                f"Stage logging left off: API Gateway in {self.plan['target']['region']} has no CloudWatch role "
                "for this account (set cloudwatchRoleArn once, or give the target --cloudwatch-role-arn)."
            )
            if not self.dry_run:  # a drift check would repeat it every interval
                logger.warning("%s", warning)
            self.result.warnings.append(warning)
        patches = self._stage_patches(self._live_stage(live), logging_plan, destination, can_log=can_log)
        if patches:
            self._call(
                "update_stage",
                f"update stage {self.plan['stage']['name']}: " + ", ".join(p["path"] for p in patches),
                restApiId=live.api["id"],
                stageName=self.plan["stage"]["name"],
                patchOperations=patches,
            )

    def _live_stage(self, live: LiveState) -> dict[str, Any]:
        """The stage as it is now: read again after this run deployed (a deployment may replace
        the stage: moto's does, dropping its settings); in a dry run, as it was read."""
        name = self.plan["stage"]["name"]
        if self.result.deployed and not self.dry_run:
            return or_none(lambda: self.client.get_stage(restApiId=live.api["id"], stageName=name)) or {}
        return live.stages.get(name) or {}

    def _access_log_group(self, access_log: dict[str, Any] | None) -> str:
        """Creates the access log group and sets its retention as planned; the group's ARN."""
        if not access_log:
            return ""
        name = access_log["log_group"]
        group = self._find_log_group(name)
        if group is None:
            try:
                self._call(
                    "create_log_group",
                    f"create log group {name}",
                    via=self.logs,
                    logGroupName=name,
                    tags=self._tags(),
                )
            except ClientError as exc:
                # An earlier attempt's create took effect although its answer was lost.
                if error_code(exc) != "ResourceAlreadyExistsException":
                    raise
            group = ({} if self.dry_run else self._find_log_group(name)) or {}
        retention = access_log["retention_days"]
        if int(group.get("retentionInDays") or 0) != retention:
            if retention:
                self._call(
                    "put_retention_policy",
                    f"keep log group {name} for {retention} days",
                    via=self.logs,
                    logGroupName=name,
                    retentionInDays=retention,
                )
            else:
                self._call(
                    "delete_retention_policy", f"keep log group {name} forever", via=self.logs, logGroupName=name
                )
        arn = group.get("logGroupArn") or str(group.get("arn", "")).removesuffix(":*")
        target = self.plan["target"]
        return arn or f"arn:aws:logs:{target['region']}:{target['account_id'] or 'ACCOUNT'}:log-group:{name}"

    def _find_log_group(self, name: str) -> dict[str, Any] | None:
        groups = self.logs.describe_log_groups(logGroupNamePrefix=name).get("logGroups", [])
        return next((group for group in groups if group.get("logGroupName") == name), None)

    def _cloudwatch_role(self, logging_plan: dict[str, Any]) -> bool:
        """Sets the target's CloudWatch role on the account when it has none; whether the
        account has one (after this run, in a dry run)."""
        if not needs_cloudwatch_role(logging_plan):
            return False
        account = self.client.get_account()
        if account.get("cloudwatchRoleArn"):
            return True
        role = logging_plan["cloudwatch_role_arn"]
        if not role:
            return False
        self._call(
            "update_account",
            "set the account's CloudWatch role for API Gateway logging",
            patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": role}],
        )
        return True

    @staticmethod
    def _stage_patches(
        stage: dict[str, Any], logging_plan: dict[str, Any], destination: str, *, can_log: bool
    ) -> list[dict[str, str]]:
        """The patch operations that bring the stage's logging and metrics in line; without the
        account's CloudWatch role the logging ones are left out (AWS would refuse them)."""
        patches: list[dict[str, str]] = []
        access_log, live_log = logging_plan["access_log"], stage.get("accessLogSettings") or {}
        if access_log and can_log:
            if str(live_log.get("destinationArn", "")).removesuffix(":*") != destination:
                patches.append({"op": "replace", "path": "/accessLogSettings/destinationArn", "value": destination})
            if live_log.get("format") != access_log["format"]:
                patches.append({"op": "replace", "path": "/accessLogSettings/format", "value": access_log["format"]})
        elif not access_log and live_log.get("destinationArn"):
            patches.append({"op": "remove", "path": "/accessLogSettings"})
        live_methods = (stage.get("methodSettings") or {}).get(ALL_METHODS) or {}
        level = logging_plan["execution_log_level"]
        if (can_log or level == "OFF") and str(live_methods.get("loggingLevel") or "OFF") != level:
            patches.append({"op": "replace", "path": f"/{ALL_METHODS}/logging/loglevel", "value": level})
        if _bool(live_methods.get("dataTraceEnabled")):
            patches.append({"op": "replace", "path": f"/{ALL_METHODS}/logging/dataTrace", "value": "false"})
        if _bool(live_methods.get("metricsEnabled")) != logging_plan["detailed_metrics"]:
            metrics = str(logging_plan["detailed_metrics"]).lower()
            patches.append({"op": "replace", "path": f"/{ALL_METHODS}/metrics/enabled", "value": metrics})
        return patches
