"""The applier against a real moto server over HTTP: read back, idempotency, minimal diffs,
throttling, drift and ownership. No database."""

import json

import pytest

from policies.gateway.applier import apply_plan, drift
from policies.gateway.limits import PlanLimitError, check_plan
from policies.gateway.live import normalise_policy
from tests.gateway.aws import Throttler, counts, recorded_client
from tests.gateway.factories import REPORTS_ROLE, SUPPORT_ROLE, policy_document, shop_plan

pytestmark = pytest.mark.slow


def resources_by_path(client, api_id):
    items = client.get_resources(restApiId=api_id, embed=["methods"], limit=500)["items"]
    return {item["path"]: item for item in items}


def test_a_full_export_reads_back_through_boto3(moto_url):
    client, _ = recorded_client(moto_url)
    plan = shop_plan()
    result = apply_plan(client, plan)
    api_id = result.rest_api_id
    api = client.get_rest_api(restApiId=api_id)
    assert api["tags"]["managed-by"] == "gqlgov" and api["tags"]["gqlgov:target"] == "shop-prod"

    resources = resources_by_path(client, api_id)
    expected_paths = {route["path"] for route in plan["routes"]}
    assert expected_paths <= set(resources)
    validator = client.get_request_validators(restApiId=api_id)["items"][0]
    assert validator["name"] == "gqlgov-body" and validator["validateRequestBody"] is True
    model = client.get_model(restApiId=api_id, modelName="GqlgovGraphQLRequest")
    assert json.loads(model["schema"])["required"] == ["query"]
    for path in expected_paths:
        method = client.get_method(restApiId=api_id, resourceId=resources[path]["id"], httpMethod="POST")
        assert method["authorizationType"] == "AWS_IAM" and method["apiKeyRequired"] is True
        assert method["requestValidatorId"] == validator["id"]
        assert method["requestModels"] == {"application/json": "GqlgovGraphQLRequest"}
        integration = method["methodIntegration"]
        assert integration["type"] == "AWS_PROXY" and integration["httpMethod"] == "POST"
        assert integration["uri"].endswith("function:shop-graphql/invocations")

    # The resource policy, parsed and compared as JSON.
    assert normalise_policy(api["policy"]) == normalise_policy(plan["api"]["policy"])
    statements = {s["Sid"]: s for s in json.loads(api["policy"])["Statement"]}
    assert statements["GqlgovDeny1"]["Resource"] == [
        "execute-api:/prod/POST/graphql",
        "execute-api:/prod/POST/graphql/mutation.deleteOrder",
    ]

    plans = {p["name"]: p for p in client.get_usage_plans()["items"]}
    support = plans["gqlgov-shop-prod-support-bot"]
    assert support["throttle"] == {"rateLimit": 10, "burstLimit": 50}
    assert support["quota"]["limit"] == 10000 and support["quota"]["period"] == "DAY"
    assert support["apiStages"][0]["stage"] == "prod"
    assert support["apiStages"][0]["throttle"]["/graphql/query.orders/POST"] == {
        "rateLimit": 1,
        "burstLimit": 10,
    }
    keys = {k["name"]: k for k in client.get_api_keys()["items"]}
    assert set(keys) == {"gqlgov-shop-prod-support-bot", "gqlgov-shop-prod-reports-bot"}
    plan_keys = client.get_usage_plan_keys(usagePlanId=support["id"])["items"]
    assert [k["id"] for k in plan_keys] == [keys["gqlgov-shop-prod-support-bot"]["id"]]

    stage = client.get_stage(restApiId=api_id, stageName="prod")
    assert stage["deploymentId"] == result.deployment_id
    assert stage["variables"]["gqlgov_policy_version"] == "1"
    assert stage["variables"]["gqlgov_plan_hash"] == plan["stage"]["variables"]["gqlgov_plan_hash"]
    assert stage["tags"]["gqlgov:policy-version"] == "1"


def test_a_second_export_makes_zero_mutating_calls(moto_url):
    client, recorder = recorded_client(moto_url)
    plan = shop_plan()
    apply_plan(client, plan)
    assert len(recorder.mutating) > 20
    recorder.calls.clear()
    result = apply_plan(client, plan)
    assert recorder.mutating == []
    assert result.changes == [] and not result.deployed
    assert all(call.outcome == "ok" for call in recorder.calls)


def test_changing_one_rule_makes_a_small_number_of_calls(moto_url):
    client, recorder = recorded_client(moto_url)
    apply_plan(client, shop_plan())
    document = policy_document()
    document["rules"][3]["subjects"] = {"agents": ["support-bot"]}  # reports-bot may no longer ask for refunds
    recorder.calls.clear()
    result = apply_plan(client, shop_plan(document, policy_version=2))
    # One patch of the resource policy, one deployment, the stage's version tag.
    assert counts(recorder.mutating) == {"UpdateRestApi": 1, "CreateDeployment": 1, "TagResource": 1}
    assert result.deployed


def test_a_changed_rate_limit_replaces_only_that_agents_usage_plan(moto_url):
    client, recorder = recorded_client(moto_url)
    apply_plan(client, shop_plan())
    document = policy_document()
    document["rules"][0]["rate_limits"] = [{"requests": 120, "per": "minute", "burst": 20}]
    recorder.calls.clear()
    apply_plan(client, shop_plan(document, policy_version=2))
    assert counts(recorder.mutating) == {
        "CreateUsagePlan": 1,
        "DeleteUsagePlanKey": 1,
        "CreateUsagePlanKey": 1,
        "DeleteUsagePlan": 1,
        "CreateDeployment": 1,
        "TagResource": 1,
    }
    plans = [p for p in client.get_usage_plans()["items"] if p["name"] == "gqlgov-shop-prod-support-bot"]
    assert len(plans) == 1
    assert plans[0]["apiStages"][0]["throttle"]["/graphql/query.order/POST"] == {
        "rateLimit": 2,
        "burstLimit": 20,
    }
    recorder.calls.clear()
    apply_plan(client, shop_plan(document, policy_version=2))
    assert recorder.mutating == []


def test_a_changed_default_rate_limit_is_one_batched_patch_per_usage_plan(moto_url):
    client, recorder = recorded_client(moto_url)
    apply_plan(client, shop_plan())
    document = policy_document()
    document["defaults"]["rate_limits"] = [{"requests": 300, "per": "minute", "burst": 30}]
    recorder.calls.clear()
    apply_plan(client, shop_plan(document, policy_version=2))
    assert counts(recorder.mutating)["UpdateUsagePlan"] == 2
    updates = [c for c in recorder.mutating if c.action == "UpdateUsagePlan"]
    assert len(updates) == 2
    recorder.calls.clear()
    apply_plan(client, shop_plan(document, policy_version=2))
    assert recorder.mutating == []


def test_throttled_calls_are_retried_and_converge_without_duplicates(moto_url):
    client, recorder = recorded_client(moto_url)
    throttler = Throttler(times=4)
    throttler.attach(client)
    result = apply_plan(client, shop_plan())
    assert len(throttler.injected) == 4
    assert sum(call.retries for call in recorder.calls) >= 4
    resources = resources_by_path(client, result.rest_api_id)
    assert len(resources) == 1 + 7  # root, /graphql and six operations: nothing created twice
    assert len(client.get_rest_apis()["items"]) == 1
    assert len(client.get_api_keys()["items"]) == 2
    recorder.calls.clear()
    apply_plan(client, shop_plan())
    assert recorder.mutating == []


def test_drift_is_detected_and_healed(moto_url):
    client, recorder = recorded_client(moto_url)
    plan = shop_plan()
    result = apply_plan(client, plan)
    api_id = result.rest_api_id
    resources = resources_by_path(client, api_id)
    client.delete_resource(restApiId=api_id, resourceId=resources["/graphql/query.customer"]["id"])
    edited = json.loads(client.get_rest_api(restApiId=api_id)["policy"])
    edited["Statement"] = [s for s in edited["Statement"] if s["Sid"] != "GqlgovDeny1"]
    client.update_rest_api(
        restApiId=api_id, patchOperations=[{"op": "replace", "path": "/policy", "value": json.dumps(edited)}]
    )

    differences = drift(client, plan)
    described = [d["change"] for d in differences]
    assert "create resource /graphql/query.customer" in described
    assert any("/policy" in d for d in described)
    assert any(d.startswith("deploy stage prod") for d in described)

    recorder.calls.clear()
    apply_plan(client, plan)
    assert drift(client, plan) == []
    assert "/graphql/query.customer" in resources_by_path(client, api_id)


def test_over_limit_plans_fail_before_any_aws_call(moto_url):
    _client, recorder = recorded_client(moto_url)
    plan = shop_plan(
        operations=[f"query.field{i}" for i in range(299)],
        document=policy_document(rules=[{"id": "all", "effect": "allow", "operations": ["*"]}]),
    )
    with pytest.raises(PlanLimitError, match="exceed the limit of 300"):
        check_plan(plan)  # what every run does before its first call
    assert recorder.calls == []


def test_resources_gqlgov_does_not_own_are_left_alone(moto_url):
    client, recorder = recorded_client(moto_url)
    api = client.create_rest_api(
        name="payments",
        policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "TeamAllowsPartner",
                        "Effect": "Allow",
                        "Principal": {"AWS": "arn:aws:iam::999999999999:root"},
                        "Action": "execute-api:Invoke",
                        "Resource": "execute-api:/*/GET/health",
                    }
                ],
            }
        ),
    )
    root = client.get_resources(restApiId=api["id"])["items"][0]["id"]
    health = client.create_resource(restApiId=api["id"], parentId=root, pathPart="health")
    client.put_method(restApiId=api["id"], resourceId=health["id"], httpMethod="GET", authorizationType="NONE")
    foreign_plan = client.create_usage_plan(name="partner-plan", throttle={"rateLimit": 5, "burstLimit": 5})
    foreign_key = client.create_api_key(name="gqlgov-shop-prod-support-bot", enabled=True)  # same name, untagged

    plan = shop_plan(rest_api_id=api["id"])
    apply_plan(client, plan)
    live = client.get_rest_api(restApiId=api["id"])
    sids = [s["Sid"] for s in json.loads(live["policy"])["Statement"]]
    assert "TeamAllowsPartner" in sids and "GqlgovAllow1" in sids
    assert live["name"] == "payments"  # not gqlgov's API: only its own statements change
    assert "/health" in resources_by_path(client, api["id"])
    assert client.get_usage_plan(usagePlanId=foreign_plan["id"])["throttle"] == {
        "rateLimit": 5,
        "burstLimit": 5,
    }
    assert client.get_api_key(apiKey=foreign_key["id"])["name"] == "gqlgov-shop-prod-support-bot"
    recorder.calls.clear()
    apply_plan(client, plan)
    assert recorder.mutating == []


def test_a_policy_without_an_agent_tears_down_its_usage_plan_and_key(moto_url):
    client, recorder = recorded_client(moto_url)
    apply_plan(client, shop_plan())
    document = policy_document()
    document["rules"] = [
        rule
        for rule in document["rules"]  # nothing admits reports-bot any more
        if rule["id"] not in ("reports-read-everything", "refunds-need-a-human")
    ]
    recorder.calls.clear()
    apply_plan(client, shop_plan(document, policy_version=2))
    mutating = counts(recorder.mutating)
    assert mutating["DeleteUsagePlan"] == 1 and mutating["DeleteApiKey"] == 1
    assert [p["name"] for p in client.get_usage_plans()["items"]] == ["gqlgov-shop-prod-support-bot"]
    policy = json.loads(client.get_rest_api(restApiId=client.get_rest_apis()["items"][0]["id"])["policy"])
    principals = json.dumps(policy)
    assert REPORTS_ROLE not in principals and SUPPORT_ROLE in principals


def test_a_full_stage_count_is_refused_before_any_write(moto_url):
    client, recorder = recorded_client(moto_url)
    api = client.create_rest_api(name="crowded")
    root = client.get_resources(restApiId=api["id"])["items"][0]["id"]
    client.put_method(restApiId=api["id"], resourceId=root, httpMethod="GET", authorizationType="NONE")
    client.put_integration(restApiId=api["id"], resourceId=root, httpMethod="GET", type="MOCK")
    for i in range(10):
        client.create_deployment(restApiId=api["id"], stageName=f"s{i}")
    recorder.calls.clear()
    with pytest.raises(PlanLimitError, match="already has 10 stages"):
        apply_plan(client, shop_plan(rest_api_id=api["id"]))
    assert recorder.mutating == []
