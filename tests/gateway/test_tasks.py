"""The export tasks on a real Celery worker (subprocess) with a real Redis broker, the test
database and a real moto server. Eager mode is not a test of Celery."""

import time

import pytest
from django.db import transaction

from policies.gateway import services
from policies.gateway.applier import apply_plan
from policies.gateway.aws import aws_client
from policies.gateway.models import ExportCall, ExportRun, GatewayTarget
from policies.gateway.tasks import detect_drift
from tests.gateway.aws import PausingProxy, recorded_client
from tests.gateway.factories import (
    make_policy,
    policy_document,
)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True), pytest.mark.timeout(240)]


def wait_for(predicate, timeout_s=90.0, what="condition"):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def finished(run):
    run.refresh_from_db()
    return run if run.status not in (ExportRun.Status.QUEUED, ExportRun.Status.RUNNING) else None


def test_approval_enqueues_an_export_that_a_real_worker_applies(shop, celery_worker):
    _, version, target = shop
    with transaction.atomic():
        [run] = services.enqueue_exports_for_policy(version)  # sent on commit
    run = wait_for(lambda: finished(run), what="the export to finish")
    assert run.status == ExportRun.Status.SUCCEEDED, run.error
    client = aws_client("apigateway", region="us-east-1", endpoint_url=target.endpoint_url)
    stage = client.get_stage(restApiId=run.rest_api_id, stageName="prod")
    assert stage["variables"]["gqlgov_policy_version"] == str(version.number)
    assert "policies.export_policy_version" in celery_worker.log()


def test_a_newer_version_supersedes_a_queued_older_one_on_the_worker(shop, start_celery_worker):
    schema, first, target = shop
    older = services.export_request(actor="test", target=target, version=first)
    second = make_policy(schema, policy_document())
    newer = services.export_request(actor="test", target=target, version=second)
    start_celery_worker()  # both tasks are already queued
    newer = wait_for(lambda: finished(newer), what="the newer export")
    older.refresh_from_db()
    assert older.status == ExportRun.Status.SUPERSEDED and older.attempts == 0
    assert newer.status == ExportRun.Status.SUCCEEDED
    client = aws_client("apigateway", region="us-east-1", endpoint_url=target.endpoint_url)
    stage = client.get_stage(restApiId=newer.rest_api_id, stageName="prod")
    assert stage["variables"]["gqlgov_policy_version"] == str(second.number)


def test_a_worker_killed_mid_export_is_redelivered_and_converges(shop, start_celery_worker, moto_url):
    _, version, target = shop
    proxy = PausingProxy(moto_url, pause_at=12)
    try:
        GatewayTarget.objects.filter(pk=target.pk).update(endpoint_url=proxy.url)
        short = {
            "CELERY_VISIBILITY_TIMEOUT_S": "3",
            "GQLGOV_EXPORT_LEASE_S": "3",
            "GQLGOV_EXPORT_BUSY_RETRY_S": "1",
        }
        first_worker = start_celery_worker(**short)
        run = services.export_request(actor="test", target=target, version=version)
        assert proxy.paused.wait(timeout=60), "the export never reached its 12th write"
        first_worker.kill()  # SIGKILL while a write is in flight: no ack, no cleanup
        proxy.release.set()
        run.refresh_from_db()
        assert run.status == ExportRun.Status.RUNNING and run.attempts == 1

        # A starting worker restores unacknowledged messages older than the visibility timeout at
        # once; a younger one waits for kombu's next sweep, 100 s later (10 s interval x throttle 10).
        time.sleep(float(short["CELERY_VISIBILITY_TIMEOUT_S"]) + 0.5)
        start_celery_worker(**short)
        run = wait_for(lambda: finished(run), timeout_s=120, what="the redelivered export")
        assert run.status == ExportRun.Status.SUCCEEDED, run.error
        assert run.attempts == 2
        assert ExportCall.objects.filter(run=run, attempt=1, mutating=True).count() >= 11
        assert ExportCall.objects.filter(run=run, attempt=2).exists()
    finally:
        proxy.close()
    client, recorder = recorded_client(moto_url)
    assert len(client.get_rest_apis()["items"]) == 1
    assert len(client.get_resources(restApiId=run.rest_api_id)["items"]) == 1 + 7
    assert len(client.get_usage_plans()["items"]) == 2 and len(client.get_api_keys()["items"]) == 2
    apply_plan(client, run.plan)
    assert recorder.mutating == []  # converged: nothing left to do


def test_the_drift_task_heals_a_target_with_auto_heal(shop, celery_worker):
    _, version, target = shop
    run = services.export_request(actor="test", target=target, version=version)
    run = wait_for(lambda: finished(run), what="the first export")
    GatewayTarget.objects.filter(pk=target.pk).update(auto_heal=True)
    client = aws_client("apigateway", region="us-east-1", endpoint_url=target.endpoint_url)
    resources = {r["path"]: r for r in client.get_resources(restApiId=run.rest_api_id)["items"]}
    client.delete_resource(restApiId=run.rest_api_id, resourceId=resources["/graphql/query.order"]["id"])

    detect_drift.delay()
    heal = wait_for(lambda: ExportRun.objects.filter(trigger="drift").first(), what="the heal run")
    heal = wait_for(lambda: finished(heal), what="the heal run to finish")
    assert heal.status == ExportRun.Status.SUCCEEDED
    assert "/graphql/query.order" in {r["path"] for r in client.get_resources(restApiId=run.rest_api_id)["items"]}
