"""The agents' access on the gateway: one API key and one usage plan per admitted agent, kept in
line with the plan by the applier (`Applier` is made of this and applier.py's API definition).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from policies.gateway.applier_part import ApplierPart
from policies.gateway.live import (
    LiveState,
    first,
    is_owned,
    pages,
    patch_number,
    same_method_throttles,
    same_quota,
    same_throttle,
)


class UsagePlansAndKeys(ApplierPart):
    """The applier's API keys and usage plans. It reads the applier's `plan`, `client`, `dry_run`,
    `secrets` and `result`, and makes every change through its `_call`."""

    secrets: Any

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
            self._create_usage_plan(live, wanted[name], replaced, key_ids[wanted[name]["api_key"]["name"]])

    def _create_usage_plan(
        self, live: LiveState, desired: dict[str, Any], replaced: dict[str, Any] | None, key_id: str
    ) -> None:
        """Creates the agent's plan with its key; a `replaced` plan loses its keys only after that
        and is deleted last, so the agent is never without a plan."""
        name = desired["name"]
        params: dict[str, Any] = {
            "name": name,
            "description": desired["description"],
            "tags": self._tags(),
            "apiStages": [
                {
                    "apiId": live.api["id"],
                    "stage": self.plan["stage"]["name"],
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
            self._remove_keys(replaced, live, "move key {key} off the replaced usage plan {plan}")
        self._usage_plan_keys(created["id"], [], key_id, name)
        if replaced is not None:
            self._call(
                "delete_usage_plan",
                f"delete the replaced usage plan {name} ({replaced['id']})",
                usagePlanId=replaced["id"],
            )

    def _find_api_key(self, name: str) -> Callable[[], dict[str, Any] | None]:
        target = self.plan["target"]["name"]
        return lambda: next(
            (
                key
                for key in pages(self.client, "get_api_keys")
                if key.get("name") == name and is_owned(key.get("tags"), target)
            ),
            None,
        )

    def _find_usage_plan(self, name: str, known: set[str]) -> Callable[[], dict[str, Any] | None]:
        """A plan of that name that the live state did not have (a replaced plan keeps its name)."""
        target = self.plan["target"]["name"]
        return lambda: next(
            (
                usage_plan
                for usage_plan in pages(self.client, "get_usage_plans")
                if usage_plan.get("name") == name
                and usage_plan["id"] not in known
                and is_owned(usage_plan.get("tags"), target)
            ),
            None,
        )

    @staticmethod
    def _stage_matches(usage_plan: dict[str, Any], api_id: str, stage: str, desired: dict[str, Any]) -> bool:
        stages = usage_plan.get("apiStages") or []
        if len(stages) != 1 or stages[0].get("apiId") != api_id or stages[0].get("stage") != stage:
            return False
        return same_method_throttles(stages[0].get("throttle"), desired["method_throttles"])

    def _usage_plan_patches(self, live_plan: dict[str, Any], desired: dict[str, Any]) -> list[dict[str, Any]]:
        patches: list[dict[str, Any]] = []
        if live_plan.get("description") != desired["description"]:
            patches.append({"op": "replace", "path": "/description", "value": desired["description"]})
        if not same_throttle(live_plan.get("throttle"), desired["throttle"]):
            if desired["throttle"]:
                patches += [
                    {
                        "op": "replace",
                        "path": f"/throttle/{key}",
                        "value": patch_number(desired["throttle"][key]),
                    }
                    for key in ("rateLimit", "burstLimit")
                ]
            else:
                patches.append({"op": "remove", "path": "/throttle"})
        if not same_quota(live_plan.get("quota"), desired["quota"]):
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
                find=lambda: first(pages(self.client, "get_usage_plan_keys", usagePlanId=plan_id), id=key_id),
            )

    def _remove_keys(self, usage_plan: dict[str, Any], live: LiveState, describe: str) -> None:
        """Takes every key off the plan; `describe` names the change ({key}, {plan})."""
        for key in live.usage_plan_keys.get(usage_plan["id"], []):
            self._call(
                "delete_usage_plan_key",
                describe.format(key=key["id"], plan=usage_plan["name"]),
                usagePlanId=usage_plan["id"],
                keyId=key["id"],
            )

    def _delete_usage_plan(self, usage_plan: dict[str, Any], live: LiveState) -> None:
        self._remove_keys(usage_plan, live, "remove key {key} from usage plan {plan}")
        self._call(
            "delete_usage_plan",
            f"delete usage plan {usage_plan['name']} ({usage_plan['id']})",
            usagePlanId=usage_plan["id"],
        )
