"""Export services against the test database and a real moto server, run in-process
(the Celery path has its own tests with a real worker)."""

import pytest

from agents.models import AuditEvent
from gqlgov.errors import ApiError
from policies.gateway import services
from policies.gateway.aws import aws_client
from policies.gateway.models import DriftReport, ExportCall, ExportRun, GatewayTarget, TargetSecret
from policies.gateway.selectors import sync_status
from tests.gateway.factories import (
    make_agents,
    make_kms_keys,
    make_policy,
    make_schema,
    make_target,
    policy_document,
    run_export,
)

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


def test_creating_a_target_is_audited(shop):
    _, _, target = shop
    event = AuditEvent.objects.get(action="export.target_created")
    assert event.target_id == str(target.pk) and event.details["stage"] == "prod"


def test_a_target_needs_exactly_one_backend(moto_url):
    schema = make_schema()
    with pytest.raises(ApiError, match="exactly one backend"):
        make_target(schema, moto_url, http_url="https://x.example/graphql")


def test_an_export_records_its_run_every_call_and_the_audit_trail(shop):
    _, version, target = shop
    run, outcome = run_export(version, target)
    assert outcome.status == "succeeded"
    assert run.status == ExportRun.Status.SUCCEEDED and run.attempts == 1
    assert run.rest_api_id and run.deployment_id and run.plan["policy_version"] == version.number
    calls = list(ExportCall.objects.filter(run=run))
    assert {c.action for c in calls} >= {"CreateRestApi", "PutMethod", "CreateDeployment", "GetUsagePlans"}
    # The one expected miss: the backend function has no resource policy before its permission.
    assert [(c.action, c.outcome) for c in calls if c.outcome != "ok"] == [("GetPolicy", "error")]
    assert {c.action for c in calls} >= {"AddPermission"}
    assert all(c.resource for c in calls)  # a listing is named by what it lists
    assert next(c for c in calls if c.action == "GetUsagePlans").resource == "account-wide in us-east-1"
    assert run.mutating_calls == sum(c.mutating for c in calls)
    actions = list(
        AuditEvent.objects.filter(target_type="policies.exportrun", target_id=str(run.pk)).values_list(
            "action", flat=True
        )
    )
    assert actions == ["export.requested", "export.started", "export.succeeded"]
    target.refresh_from_db()
    assert target.active_run_id is None and target.resolved_rest_api_id == run.rest_api_id


def test_an_export_creates_the_access_log_group_records_its_calls_and_audits_why_logging_is_off(shop):
    _, version, target = shop  # moto's account has no CloudWatch role for API Gateway
    run, outcome = run_export(version, target)
    assert outcome.status == "succeeded"
    logs_calls = {c.action: c for c in ExportCall.objects.filter(run=run, service="logs")}
    assert {"DescribeLogGroups", "CreateLogGroup", "PutRetentionPolicy"} <= set(logs_calls)
    assert (
        logs_calls["CreateLogGroup"].mutating
        and "/aws/apigateway/gqlgov-shop-prod" in logs_calls["CreateLogGroup"].resource
    )
    succeeded = AuditEvent.objects.get(action="export.succeeded", target_id=str(run.pk))
    [warning] = succeeded.details["warnings"]
    assert "no CloudWatch role" in warning and "--cloudwatch-role-arn" in warning


def test_export_outcomes_are_counted_for_prometheus(shop):
    from gqlgov.metrics import EXPORT_RUNS

    _, version, target = shop
    before = EXPORT_RUNS.labels("succeeded")._value.get()
    run_export(version, target)
    assert EXPORT_RUNS.labels("succeeded")._value.get() == before + 1


def test_exporting_the_same_version_again_makes_no_mutating_call(shop):
    _, version, target = shop
    run_export(version, target)
    again, _ = run_export(version, target)
    assert again.status == ExportRun.Status.SUCCEEDED
    assert again.mutating_calls == 0 and again.changes == [] and again.deployment_id == ""


def test_a_newer_request_supersedes_a_queued_older_one(shop):
    schema, first, target = shop
    older = services.export_request(actor="test", target=target, version=first)
    newer_version = make_policy(schema, policy_document())
    newer = services.export_request(actor="test", target=target, version=newer_version)
    older.refresh_from_db()
    assert older.status == ExportRun.Status.SUPERSEDED and older.superseded_by_id == newer.pk
    outcome = services.export_run_execute(version_id=first.pk, target_id=target.pk)
    assert outcome.status == "nothing_to_do"
    assert services.export_run_execute(version_id=newer_version.pk, target_id=target.pk).status == "succeeded"
    superseded = AuditEvent.objects.get(action="export.requested", target_id=str(newer.pk))
    assert superseded.details["superseded_runs"] == [older.pk]


def test_a_target_claimed_by_a_live_run_is_busy_and_a_lapsed_claim_can_be_taken_over(shop, settings):
    _, version, target = shop
    first = services.export_request(actor="test", target=target, version=version)
    assert services.export_run_claim(run=first)
    second = services.export_request(actor="test", target=target, version=version)
    assert not services.export_run_claim(run=second)  # the target is held
    with pytest.raises(services.TargetBusy):
        services.export_run_execute(version_id=version.pk, target_id=target.pk)
    GatewayTarget.objects.filter(pk=target.pk).update(lease_expires_at="2000-01-01T00:00:00Z")
    assert services.export_run_claim(run=second)


def test_only_approved_versions_are_exported(shop):
    schema, _, target = shop
    draft = make_policy(schema, status="draft")
    with pytest.raises(ApiError, match="only approved"):
        services.export_request(actor="test", target=target, version=draft)


def test_approval_enqueues_an_export_to_every_target_of_the_schema(shop, moto_url):
    schema, version, target = shop
    other = make_target(schema, moto_url, name="shop-staging", stage_name="staging")
    runs = services.enqueue_exports_for_policy(version)
    assert sorted(run.target_id for run in runs) == sorted([target.pk, other.pk])
    assert all(run.trigger == "approval" and run.status == "queued" for run in runs)


def test_an_over_limit_plan_fails_the_run_before_any_aws_call(moto_url):
    operations = [f"query.field{i}" for i in range(299)]
    schema = make_schema(
        sdl="type Query { " + " ".join(f"field{i}: Int" for i in range(299)) + " }", operations=operations
    )
    version = make_policy(
        schema, {"schema": "shop", "rules": [{"id": "all", "effect": "allow", "operations": ["query.*"]}]}
    )
    target = make_target(schema, moto_url)
    run, _outcome = run_export(version, target)
    assert run.status == ExportRun.Status.FAILED
    assert "301 resources" in run.error and run.error_details["violations"][0]["limit"] == "resources_per_api"
    assert ExportCall.objects.filter(run=run).count() == 0


def _register_shop_without_ssn() -> None:
    make_schema(
        sdl="type Query { order(id: ID!): Order orders(first: Int): [Order] customer(id: ID!): Customer }\n"
        "type Mutation { refundOrder(id: ID!): Order deleteOrder(id: ID!): Boolean }\n"
        "type Order { id: ID! total: Int }\ntype Customer { id: ID! name: String }",
        operations=[
            "query.order",
            "query.orders",
            "query.customer",
            "mutation.refundOrder",
            "mutation.deleteOrder",
        ],
    )


def test_an_export_follows_the_schema_version_its_policy_is_pinned_to_not_a_newer_one(shop):
    schema, _, target = shop
    document = policy_document()
    document["rules"][0]["fields"] = {"deny": ["Customer.ssn"]}
    version = make_policy(schema, document)
    pinned = version.schema_version
    _register_shop_without_ssn()

    run, outcome = run_export(version, target)

    assert outcome.status == "succeeded"
    assert run.schema_version == pinned and schema.versions.count() == 2


def test_stale_references_of_an_unpinned_version_refuse_the_export_and_list_them(shop, moto_url):
    schema, _, target = shop
    document = policy_document()
    document["rules"][0]["fields"] = {"deny": ["Customer.ssn"]}
    version = make_policy(schema, document, pinned=False)
    _register_shop_without_ssn()
    run, _outcome = run_export(version, target)
    assert run.status == ExportRun.Status.REFUSED
    assert "Schema lockstep" in run.error and "Customer.ssn" in run.error
    assert run.error_details["stale"]
    assert ExportCall.objects.filter(run=run).count() == 0


def test_ungoverned_operations_refuse_the_export_when_the_target_requires_full_coverage(shop, moto_url):
    schema, version, _ = shop
    strict = make_target(schema, moto_url, name="shop-strict", require_full_coverage=True)
    run, _ = run_export(version, strict)
    assert run.status == ExportRun.Status.REFUSED
    assert "mutation.updateOrder" in run.error_details["ungoverned"]


def test_drift_is_recorded_and_auto_heal_requests_an_export(shop):
    _schema, version, target = shop
    run, _ = run_export(version, target)
    client = aws_client("apigateway", region="us-east-1", endpoint_url=target.endpoint_url)
    resources = {r["path"]: r for r in client.get_resources(restApiId=run.rest_api_id)["items"]}
    client.delete_resource(restApiId=run.rest_api_id, resourceId=resources["/graphql/query.customer"]["id"])

    report = services.drift_check(target=target)
    assert report is not None and report.heal_run is None
    assert "create resource /graphql/query.customer" in [d["change"] for d in report.differences]
    assert AuditEvent.objects.filter(action="export.drift_detected").count() == 1

    GatewayTarget.objects.filter(pk=target.pk).update(auto_heal=True)
    target.refresh_from_db()
    report = services.drift_check(target=target)
    assert report.heal_run.trigger == "drift"
    services.export_run_execute(version_id=version.pk, target_id=target.pk)
    assert services.drift_check(target=target) is None
    assert DriftReport.objects.count() == 2


def test_in_sync_is_said_only_after_a_drift_check_compared_a_successful_export(shop, moto_url):
    schema, version, target = shop
    assert sync_status(target, None).state == "never_exported"

    run, _ = run_export(version, target)
    target.refresh_from_db()
    assert sync_status(target, run).label == "exported, never checked for drift"

    assert services.drift_check(target=target) is None
    target.refresh_from_db()
    assert sync_status(target, run).state == "in_sync"

    client = aws_client("apigateway", region="us-east-1", endpoint_url=target.endpoint_url)
    resources = {r["path"]: r for r in client.get_resources(restApiId=run.rest_api_id)["items"]}
    client.delete_resource(restApiId=run.rest_api_id, resourceId=resources["/graphql/query.customer"]["id"])
    services.drift_check(target=target)
    target.refresh_from_db()
    assert sync_status(target, run).state == "drift"

    strict = make_target(schema, moto_url, name="shop-strict", require_full_coverage=True)
    refused, _ = run_export(version, strict)
    assert sync_status(strict, refused).label == "refused: schema lockstep"


def test_api_key_values_are_envelope_encrypted_rotated_after_deployment_and_the_plan_is_signed(shop, moto_url):
    schema, version, target = shop
    secret_key, signing_key = make_kms_keys(moto_url)
    GatewayTarget.objects.filter(pk=target.pk).update(kms_key_id=secret_key, signing_key_id=signing_key)
    target.refresh_from_db()
    run, _ = run_export(version, target)
    assert run.status == ExportRun.Status.SUCCEEDED

    secrets = {s.agent_name: s for s in TargetSecret.objects.filter(target=target)}
    assert set(secrets) == {"support-bot", "reports-bot"}
    client = aws_client("apigateway", region="us-east-1", endpoint_url=moto_url)
    live = client.get_api_key(apiKey=secrets["support-bot"].api_key_id, includeValue=True)["value"]
    assert live.encode() not in bytes(secrets["support-bot"].ciphertext)
    assert services.secret_value(actor="test", target=target, agent_name="support-bot") == live

    kms = aws_client("kms", region="us-east-1", endpoint_url=moto_url)
    rotations = kms.list_key_rotations(KeyId=secret_key)["Rotations"]
    assert len(rotations) == 1 and rotations[0]["RotationType"] == "ON_DEMAND"
    target.refresh_from_db()
    assert target.last_rotation_at is not None
    rotated = AuditEvent.objects.get(action="export.key_rotated")
    assert rotated.details["reencrypted"] == 2
    assert run.signature and run.signing_algorithm == "RSASSA_PSS_SHA_256"
    assert services.export_verify(run=run).valid
    run.plan["policy_version"] = 999  # a tampered plan no longer matches its signature
    assert not services.export_verify(run=run).valid

    again, _ = run_export(version, target)  # no deployment: no rotation
    assert len(kms.list_key_rotations(KeyId=secret_key)["Rotations"]) == 1
    assert again.mutating_calls == 0

    changed = policy_document()
    changed["rules"][3]["subjects"] = {"agents": ["support-bot"]}
    deployed, _ = run_export(make_policy(schema, changed), target)
    assert deployed.deployment_id
    assert len(kms.list_key_rotations(KeyId=secret_key)["Rotations"]) == 2
    reencrypted = TargetSecret.objects.get(pk=secrets["support-bot"].pk)
    assert bytes(reencrypted.encrypted_data_key) != bytes(secrets["support-bot"].encrypted_data_key)
    assert services.secret_value(actor="test", target=target, agent_name="support-bot") == live


def test_a_permanent_aws_error_fails_the_run_with_the_aws_message(moto_url):
    schema = make_schema()
    make_agents()
    version = make_policy(schema)
    target = make_target(schema, moto_url, rest_api_id="doesnotexist")
    run, _outcome = run_export(version, target)
    assert run.status == ExportRun.Status.FAILED
    assert "NotFoundException" in run.error and "GetRestApi" in run.error
    failed_call = ExportCall.objects.get(run=run, action="GetRestApi")
    assert failed_call.outcome == "error" and "NotFoundException" in failed_call.error
    target.refresh_from_db()
    assert target.active_run_id is None
