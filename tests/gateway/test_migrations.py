"""A database migrated before the gateway app existed (its export models were the policies
app's) upgrades in place: same tables, same rows, same content types and permissions."""

from datetime import UTC, datetime

import pytest
from django.contrib.auth.backends import ModelBackend
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from agents.audit import record_event
from policies.gateway.models import DriftReport, ExportCall, ExportRun, GatewayTarget, TargetSecret

# Today's heads before the move: the export's tables and state were policies 0002's.
BEFORE_THE_MOVE = [("policies", "0003_decision_undeclared_variables"), ("agents", "0003_principal_linked_subject")]

pytestmark = pytest.mark.django_db(transaction=True)


def heads():
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


def before_the_move():
    """Every app at its head but policies and agents at BEFORE_THE_MOVE, gateway not at all."""
    moved = {app for app, _ in BEFORE_THE_MOVE} | {"gateway"}
    return BEFORE_THE_MOVE + [node for node in heads() if node[0] not in moved]


def migrate(targets):
    """Migrates the test database to `targets` and returns the historical models there."""
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return MigrationExecutor(connection).loader.project_state(targets).apps


def seed_export_rows(old):
    """A target with a finished run, one call, a drift report, a secret and a granted permission,
    written through the models as they were before the move."""
    schema = old.get_model("policies", "Schema").objects.create(name="shop")
    schema_version = old.get_model("policies", "SchemaVersion").objects.create(
        schema=schema, number=1, sdl="type Query { a: Int }", content_hash="0" * 64, operations=["query.a"]
    )
    version = old.get_model("policies", "PolicyVersion").objects.create(
        schema=schema, number=1, document={"schema": "shop", "rules": []}, status="approved"
    )
    target = old.get_model("policies", "GatewayTarget").objects.create(
        name="shop-prod", schema=schema, region="eu-west-1", stage_name="prod", created_by="test"
    )
    run = old.get_model("policies", "ExportRun").objects.create(
        target=target,
        policy_version=version,
        schema_version=schema_version,
        status="succeeded",
        requested_by="test",
        plan={"format": 1},
        changes=[{"action": "create_rest_api", "change": "create REST API gqlgov-shop-prod"}],
    )
    target.active_run = run
    target.save()
    old.get_model("policies", "ExportCall").objects.create(
        run=run, seq=1, service="apigateway", action="CreateRestApi", outcome="ok", mutating=True
    )
    old.get_model("policies", "DriftReport").objects.create(
        target=target, policy_version=version, differences=[{"change": "x"}], heal_run=run
    )
    old.get_model("policies", "TargetSecret").objects.create(
        target=target,
        agent_name="support-bot",
        kms_key_id="key",
        encrypted_data_key=b"\x00wrapped",
        nonce=b"\x01" * 12,
        ciphertext=b"\x02secret",
        encrypted_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    content_type, _ = old.get_model("contenttypes", "ContentType").objects.get_or_create(
        app_label="policies", model="exportrun"
    )
    permission, _ = old.get_model("auth", "Permission").objects.get_or_create(
        content_type=content_type, codename="view_exportrun", defaults={"name": "Can view export run"}
    )
    user = old.get_model("auth", "User").objects.create(username="auditor")
    user.user_permissions.add(permission)
    return run.pk, content_type.pk


def test_a_database_migrated_before_the_move_keeps_its_export_rows_and_permissions():
    after = heads()
    try:
        run_id, content_type_id = seed_export_rows(migrate(before_the_move()))
        migrate(after)
    finally:
        migrate(after)  # the next test expects the head, whatever failed above
    ContentType.objects.clear_cache()

    target = GatewayTarget.objects.get(name="shop-prod")
    run = ExportRun.objects.get(pk=run_id)
    assert target.active_run == run and run.target == target
    assert run.policy_version.schema.name == "shop" and run.schema_version.number == 1
    assert run.plan == {"format": 1} and run.changes[0]["action"] == "create_rest_api"
    assert [call.action for call in ExportCall.objects.filter(run=run)] == ["CreateRestApi"]
    assert DriftReport.objects.get(target=target).heal_run == run
    secret = TargetSecret.objects.get(target=target)
    assert bytes(secret.ciphertext) == b"\x02secret" and bytes(secret.nonce) == b"\x01" * 12

    # The same content type (so the same permissions), under the new app label.
    assert ContentType.objects.get_for_model(ExportRun).pk == content_type_id
    from django.contrib.auth import get_user_model

    auditor = get_user_model().objects.get(username="auditor")
    assert ModelBackend().has_perm(auditor, "gateway.view_exportrun")

    # New rows continue the tables' sequences.
    newer = ExportRun.objects.create(target=target, policy_version=run.policy_version, requested_by="test")
    assert newer.pk > run.pk


def test_targets_from_before_enforcement_stay_advisory_and_new_ones_verify_at_the_backend():
    # An upgrade must not change what a deployed target enforces without a person choosing.
    after = heads()
    before = [("gateway", "0004_stage_logging")] + [n for n in after if n[0] != "gateway"]
    try:
        old = migrate(before)
        schema = old.get_model("policies", "Schema").objects.create(name="shop")
        old.get_model("gateway", "GatewayTarget").objects.create(
            name="shop-prod", schema=schema, region="eu-west-1", stage_name="prod", created_by="test"
        )
        migrate(after)
    finally:
        migrate(after)
    existing = GatewayTarget.objects.get(name="shop-prod")
    assert existing.enforcement == "none" and existing.authorizer_arn == ""
    new = GatewayTarget.objects.create(
        name="shop-dev", schema=existing.schema, region="eu-west-1", stage_name="dev", created_by="test"
    )
    assert new.enforcement == "backend"


def test_audit_events_of_a_moved_model_keep_the_type_they_had_before_the_move():
    # One run's events, requested before an upgrade and finished after it, share one type.
    assert record_event(actor="test", action="test", target=ExportRun(pk=1)).target_type == "policies.exportrun"


def test_the_models_and_their_migrations_agree():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)
