"""AWS answering 5xx during an export, against a real moto server.

Throttling (429) and a worker SIGKILLed mid-export are covered in tests/policies/export/
(test_applier, test_services, test_tasks); these add server errors, including one that arrives
after the write took effect, so the retry repeats a write AWS already made.
"""

import pytest

from policies.export import services
from policies.export.applier import apply_plan
from policies.export.models import ExportCall, ExportRun
from tests.policies.export.aws import Throttler, recorded_client
from tests.policies.export.factories import make_agents, make_policy, make_schema, make_target, shop_plan

pytestmark = pytest.mark.slow

SERVER_ERRORS = [(500, "InternalFailure"), (503, "ServiceUnavailableException")]


# botocore's standard retry mode repeats a Create* call whose 5xx arrived after AWS made the write;
# API Gateway has no idempotency token, so each repeat creates another REST API (usage plan, API
# key). Known bug, not fixed yet: the applier must look for what it created before creating again.
AFTER_WRITE = pytest.param(
    True,
    id="after-write",
    marks=pytest.mark.xfail(
        strict=True, reason="retried Create* calls duplicate what a 5xx-answered write already created"
    ),
)


@pytest.mark.parametrize("after_write", [pytest.param(False, id="before-write"), AFTER_WRITE])
@pytest.mark.parametrize(("status", "code"), SERVER_ERRORS, ids=["500", "503"])
def test_aws_5xx_answers_are_retried_and_the_export_converges_without_duplicates(moto_url, status, code, after_write):
    client, recorder = recorded_client(moto_url)
    failing = Throttler(times=4, status=status, code=code, after_write=after_write)
    failing.attach(client)
    result = apply_plan(client, shop_plan())
    assert len(failing.injected) == 4
    assert sum(call.retries for call in recorder.calls) >= 4
    assert len(client.get_rest_apis()["items"]) == 1
    assert len(client.get_resources(restApiId=result.rest_api_id)["items"]) == 1 + 7  # nothing created twice
    assert len(client.get_usage_plans()["items"]) == 2 and len(client.get_api_keys()["items"]) == 2
    recorder.calls.clear()
    apply_plan(client, shop_plan())
    assert recorder.mutating == []  # converged


@pytest.mark.django_db
def test_5xx_that_outlasts_botocore_retries_requeues_the_run_and_the_retry_succeeds(moto_url, settings, monkeypatch):
    schema = make_schema()
    make_agents()
    version = make_policy(schema)
    target = make_target(schema, moto_url)
    settings.GQLGOV_AWS_MAX_ATTEMPTS = 2
    real_clients_for = services.clients_for

    def failing_clients(target):
        apigateway, kms = real_clients_for(target)
        Throttler(times=1000, status=503, code="ServiceUnavailableException").attach(apigateway)
        return apigateway, kms

    monkeypatch.setattr(services, "clients_for", failing_clients)
    run = services.export_request(actor="test", target=target, version=version)
    with pytest.raises(services.TransientExportError, match="ServiceUnavailableException"):
        services.export_run_execute(version_id=version.pk, target_id=target.pk)
    run.refresh_from_db()
    assert run.status == ExportRun.Status.QUEUED and "ServiceUnavailableException" in run.error
    assert ExportCall.objects.filter(run=run, outcome="error").exists()  # the failed calls are on record

    monkeypatch.setattr(services, "clients_for", real_clients_for)
    assert services.export_run_execute(version_id=version.pk, target_id=target.pk).status == "succeeded"
    run.refresh_from_db()
    assert run.status == ExportRun.Status.SUCCEEDED and run.attempts == 2
