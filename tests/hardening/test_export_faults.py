"""AWS answering 5xx during an export, against a real moto server.

Throttling (429) and a worker SIGKILLed mid-export are covered in tests/gateway/
(test_applier, test_services, test_tasks); these add server errors, including one that arrives
after the write took effect: a create must not be repeated blindly (API Gateway has no
idempotency token), the applier looks for what the unanswered call made first.
"""

import json

import pytest

from policies.gateway import services
from policies.gateway.applier import apply_plan
from policies.gateway.aws import NON_IDEMPOTENT_ACTIONS
from policies.gateway.models import ExportCall, ExportRun
from policies.gateway.services import runs
from tests.gateway.aws import Throttler, recorded_client
from tests.gateway.factories import (
    AUTHORIZER_ARN,
    make_agents,
    make_function,
    make_lambda_role,
    make_policy,
    make_schema,
    make_target,
    policy_document,
    shop_agents,
    shop_plan,
    verifier_zip,
)

pytestmark = pytest.mark.slow

SERVER_ERRORS = [(500, "InternalFailure"), (503, "ServiceUnavailableException")]
WRITE_TIMING = [pytest.param(False, id="before-write"), pytest.param(True, id="after-write")]


def assert_one_of_everything(client, rest_api_id):
    """The shop plan's objects, each exactly once."""
    assert len(client.get_rest_apis()["items"]) == 1
    resources = client.get_resources(restApiId=rest_api_id, embed=["methods"], limit=500)["items"]
    assert len(resources) == 1 + 7  # / and /graphql with its 6 routes: nothing created twice
    assert all(list(r.get("resourceMethods", {})) == ["POST"] for r in resources if r["path"] != "/")
    models = [m["name"] for m in client.get_models(restApiId=rest_api_id)["items"]]
    validators = [v["name"] for v in client.get_request_validators(restApiId=rest_api_id)["items"]]
    assert len(models) == len(set(models)) and len(validators) == len(set(validators)) == 1
    usage_plans = client.get_usage_plans()["items"]
    assert len(usage_plans) == 2 and len({p["name"] for p in usage_plans}) == 2
    assert len(client.get_api_keys()["items"]) == 2
    for usage_plan in usage_plans:
        assert len(client.get_usage_plan_keys(usagePlanId=usage_plan["id"])["items"]) == 1
    assert len(client.get_deployments(restApiId=rest_api_id)["items"]) == 1


@pytest.mark.parametrize("after_write", WRITE_TIMING)
@pytest.mark.parametrize(("status", "code"), SERVER_ERRORS, ids=["500", "503"])
def test_aws_5xx_answers_are_retried_and_the_export_converges_without_duplicates(moto_url, status, code, after_write):
    client, recorder = recorded_client(moto_url)
    failing = Throttler(times=4, status=status, code=code, after_write=after_write)
    failing.attach(client)
    result = apply_plan(client, shop_plan())
    assert len(failing.injected) == 4
    # Each failure was either retried by botocore or, for a create, answered by a re-read.
    assert sum(call.retries for call in recorder.calls) + sum(c.outcome == "error" for c in recorder.calls) >= 4
    assert_one_of_everything(client, result.rest_api_id)
    recorder.calls.clear()
    apply_plan(client, shop_plan())
    assert recorder.mutating == []  # converged


# Creates of the enforcement: the authorizer (given by ARN) on API Gateway, the deployed
# authorizer function and the invoke permissions on Lambda.
ENFORCEMENT_CREATES = {"CreateAuthorizer": "apigateway", "CreateFunction": "lambda", "AddPermission": "lambda"}


@pytest.mark.parametrize("after_write", WRITE_TIMING)
@pytest.mark.parametrize("operation", sorted(NON_IDEMPOTENT_ACTIONS - set(ENFORCEMENT_CREATES)))
def test_a_create_answered_with_5xx_is_looked_for_before_it_is_made_again(moto_url, operation, after_write):
    client, recorder = recorded_client(moto_url)
    failing = Throttler(
        times=2, status=503, code="ServiceUnavailableException", after_write=after_write, operations=(operation,)
    )
    failing.attach(client)
    result = apply_plan(client, shop_plan())
    assert failing.injected and all(call.retries == 0 for call in recorder.calls if call.action == operation)
    assert_one_of_everything(client, result.rest_api_id)
    recorder.calls.clear()
    apply_plan(client, shop_plan())
    assert recorder.mutating == []


@pytest.mark.django_db
@pytest.mark.parametrize("after_write", WRITE_TIMING)
@pytest.mark.parametrize("operation", sorted(ENFORCEMENT_CREATES))
def test_an_enforcement_create_answered_with_5xx_is_looked_for_before_it_is_made_again(
    moto_url, tmp_path, operation, after_write
):
    client, recorder = recorded_client(moto_url)
    functions, function_calls = recorded_client(moto_url, "lambda")
    make_function(moto_url)
    role = make_lambda_role(moto_url)
    if operation == "CreateAuthorizer":
        plan = shop_plan(enforcement="authorizer", authorizer_arn=make_function(moto_url, AUTHORIZER_ARN))
    else:
        plan = shop_plan(enforcement="authorizer", authorizer_role_arn=role, verifier=verifier_zip(tmp_path))
    failing = Throttler(
        times=2,
        status=503,
        code="ServiceUnavailableException",
        after_write=after_write,
        operations=(operation,),
        service=ENFORCEMENT_CREATES[operation],
    )
    failing.attach(client if ENFORCEMENT_CREATES[operation] == "apigateway" else functions)
    result = apply_plan(client, plan, lambda_client=functions)
    calls = recorder.calls + function_calls.calls
    assert failing.injected and all(call.retries == 0 for call in calls if call.action == operation)
    assert [a["name"] for a in client.get_authorizers(restApiId=result.rest_api_id)["items"]] == ["gqlgov-decision"]
    names = [f["FunctionName"] for f in functions.list_functions()["Functions"]]
    assert len(names) == len(set(names))
    for permission in plan["lambda"]["permissions"]:
        statements = json.loads(functions.get_policy(FunctionName=permission["function"])["Policy"])["Statement"]
        assert [s["Sid"] for s in statements] == [permission["statement_id"]]
    recorder.calls.clear()
    function_calls.calls.clear()
    apply_plan(client, plan, lambda_client=functions)
    assert recorder.mutating == [] and function_calls.mutating == []


@pytest.mark.parametrize("after_write", WRITE_TIMING)
def test_a_replaced_usage_plan_answered_with_5xx_is_not_mistaken_for_the_old_one(moto_url, after_write):
    client, recorder = recorded_client(moto_url)
    apply_plan(client, shop_plan())
    document = policy_document()
    document["rules"][0]["rate_limits"] = [{"requests": 120, "per": "minute", "burst": 20}]
    failing = Throttler(
        times=1, status=500, code="InternalFailure", after_write=after_write, operations=("CreateUsagePlan",)
    )
    failing.attach(client)
    apply_plan(client, shop_plan(document, policy_version=2))
    assert len(failing.injected) == 1
    plans = [p for p in client.get_usage_plans()["items"] if p["name"] == "gqlgov-shop-prod-support-bot"]
    assert len(plans) == 1 and len(client.get_usage_plans()["items"]) == 2
    assert plans[0]["apiStages"][0]["throttle"]["/graphql/query.order/POST"]["rateLimit"] == 2
    recorder.calls.clear()
    apply_plan(client, shop_plan(document, policy_version=2))
    assert recorder.mutating == []


def test_a_delete_whose_answer_was_lost_is_done_when_botocore_repeats_it(moto_url):
    client, recorder = recorded_client(moto_url)
    apply_plan(client, shop_plan())
    # The repeat of a delete that took effect gets 404 NotFound (moto answers a repeated
    # DeleteResource or DeleteUsagePlan with a 500 KeyError, so an API key it is).
    failing = Throttler(
        times=1, status=503, code="ServiceUnavailableException", after_write=True, operations=("DeleteApiKey",)
    )
    failing.attach(client)
    agents = [agent for agent in shop_agents() if agent["name"] != "reports-bot"]
    apply_plan(client, shop_plan(agents=agents))
    assert len(failing.injected) == 1
    assert [key["name"] for key in client.get_api_keys()["items"]] == ["gqlgov-shop-prod-support-bot"]
    recorder.calls.clear()
    apply_plan(client, shop_plan(agents=agents))
    assert recorder.mutating == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("status", "code"), [(429, "TooManyRequestsException"), (503, "ServiceUnavailableException")]
)
def test_aws_errors_that_outlast_botocore_retries_requeue_the_run_and_the_retry_succeeds(
    moto_url, settings, monkeypatch, status, code
):
    schema = make_schema()
    make_agents()
    version = make_policy(schema)
    make_function(moto_url)
    target = make_target(schema, moto_url)
    settings.GQLGOV_AWS_MAX_ATTEMPTS = 2
    real_clients_for = runs.clients_for

    def failing_clients(target):
        apigateway, kms = real_clients_for(target)
        Throttler(times=1000, status=status, code=code).attach(apigateway)
        return apigateway, kms

    monkeypatch.setattr(runs, "clients_for", failing_clients)
    run = services.export_request(actor="test", target=target, version=version)
    with pytest.raises(services.TransientExportError, match=code):
        services.export_run_execute(version_id=version.pk, target_id=target.pk)
    run.refresh_from_db()
    assert run.status == ExportRun.Status.QUEUED and code in run.error
    assert ExportCall.objects.filter(run=run, outcome="error").exists()  # the failed calls are on record
    target.refresh_from_db()
    assert target.active_run_id is None  # the retry can claim it again

    monkeypatch.setattr(runs, "clients_for", real_clients_for)
    assert services.export_run_execute(version_id=version.pk, target_id=target.pk).status == "succeeded"
    run.refresh_from_db()
    assert run.status == ExportRun.Status.SUCCEEDED and run.attempts == 2
