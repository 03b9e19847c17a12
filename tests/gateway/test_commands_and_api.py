"""The management commands and GET /api/v1/exports/{id}."""

import json

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from policies.gateway import services
from policies.gateway.models import ExportRun, GatewayTarget
from policies.services import policy_rollback
from tests.conftest import bearer, issue_token_for, make_principal
from tests.gateway.factories import (
    AUTHORIZER_ARN,
    make_agents,
    make_function,
    make_kms_keys,
    make_policy,
    make_schema,
    make_target,
)

pytestmark = [pytest.mark.slow]


def test_create_gateway_target_creates_an_audited_target(db, moto_url, capsys):
    make_schema()
    call_command(
        "create_gateway_target",
        "shop-dev",
        "--schema",
        "shop",
        "--region",
        "eu-west-1",
        "--stage",
        "dev",
        "--http-url",
        "https://backend.internal/graphql",
        "--endpoint-url",
        moto_url,
        "--auth",
        "api_key",
        "--auto-heal",
    )
    target = GatewayTarget.objects.get(name="shop-dev")
    assert target.auth_mode == "api_key" and target.auto_heal and target.http_url.endswith("/graphql")
    assert "Created gateway target shop-dev" in capsys.readouterr().out


def test_create_gateway_target_takes_the_stage_logging_settings(db, moto_url):
    from agents.models import AuditEvent

    make_schema()
    role = "arn:aws:iam::123456789012:role/apigateway-cloudwatch"
    options = ["--region", "us-east-1", "--stage", "prod", "--http-url", "https://backend.internal/graphql"]
    call_command(
        "create_gateway_target",
        "shop-logged",
        "--schema",
        "shop",
        *options,
        "--access-log-retention-days",
        "90",
        "--execution-logging",
        "INFO",
        "--detailed-metrics",
        "--cloudwatch-role-arn",
        role,
    )
    target = GatewayTarget.objects.get(name="shop-logged")
    assert (target.access_logging, target.access_log_retention_days) == (True, 90)
    assert (target.execution_log_level, target.detailed_metrics, target.cloudwatch_role_arn) == ("INFO", True, role)
    details = AuditEvent.objects.get(action="export.target_created", target_id=str(target.pk)).details
    assert details["execution_log_level"] == "INFO" and details["cloudwatch_role_arn"] == role

    call_command("create_gateway_target", "shop-quiet", "--schema", "shop", *options, "--no-access-log")
    quiet = GatewayTarget.objects.get(name="shop-quiet")
    assert not quiet.access_logging and quiet.execution_log_level == "OFF" and not quiet.detailed_metrics
    with pytest.raises(CommandError, match=r"VALIDATION_ERROR.*cloudwatch_role_arn"):
        call_command("create_gateway_target", "shop-bad", "--schema", "shop", *options, "--cloudwatch-role-arn", "logs")


def test_create_gateway_target_takes_the_enforcement_mode_and_the_authorizer(db, capsys):
    make_schema()
    common = ["--schema", "shop", "--region", "us-east-1", "--http-url", "https://backend.internal/graphql"]
    call_command("create_gateway_target", "shop-dev", *common, "--stage", "dev")
    assert "must run gqlgov_verify.lambda_guard" in capsys.readouterr().out
    call_command(
        "create_gateway_target",
        "shop-auth",
        *common,
        "--stage",
        "auth",
        "--enforce",
        "authorizer",
        "--authorizer-arn",
        AUTHORIZER_ARN,
    )
    call_command("create_gateway_target", "shop-old", *common, "--stage", "old", "--enforce", "none")
    assert "advisory" in capsys.readouterr().out
    targets = {t.name: t for t in GatewayTarget.objects.all()}
    assert targets["shop-dev"].enforcement == "backend"
    assert (targets["shop-auth"].enforcement, targets["shop-auth"].authorizer_arn) == ("authorizer", AUTHORIZER_ARN)
    assert targets["shop-old"].enforcement == "none"
    with pytest.raises(CommandError, match="VALIDATION_ERROR"):
        call_command("create_gateway_target", "shop-x", *common, "--stage", "x", "--enforce", "authorizer")


def test_build_verifier_package_writes_the_same_zip_twice(tmp_path, capsys):
    import zipfile

    first, second = tmp_path / "a.zip", tmp_path / "b.zip"
    for output in (first, second):
        call_command("build_verifier_package", "--without-dependencies", "-o", str(output))
    assert first.read_bytes() == second.read_bytes()
    names = zipfile.ZipFile(first).namelist()
    assert "gqlgov_verify/__init__.py" in names and not any("__pycache__" in n for n in names)
    assert "CodeSha256" in capsys.readouterr().out


def test_create_gateway_target_refuses_an_unknown_schema(db):
    with pytest.raises(CommandError, match="NOT_FOUND"):
        call_command(
            "create_gateway_target",
            "x",
            "--schema",
            "nope",
            "--region",
            "us-east-1",
            "--stage",
            "prod",
            "--lambda-arn",
            "arn:aws:lambda:us-east-1:123456789012:function:f",
        )


@pytest.mark.parametrize("fmt", ["cloudformation", "terraform", "openapi", "json"])
def test_export_policies_writes_each_format(shop, tmp_path, fmt):
    output = tmp_path / f"shop.{fmt}.json"
    call_command("export_policies", "shop", "--target", "shop-prod", "--format", fmt, "-o", str(output))
    document = json.loads(output.read_text())
    assert document


def test_verify_export_checks_the_stored_signature(shop, moto_url, capsys):
    _, version, target = shop
    _, signing_key = make_kms_keys(moto_url)
    GatewayTarget.objects.filter(pk=target.pk).update(signing_key_id=signing_key)
    target.refresh_from_db()
    run = services.export_request(actor="test", target=target, version=version)
    services.export_run_execute(version_id=version.pk, target_id=target.pk)
    call_command("verify_export", str(run.pk))
    assert "is valid" in capsys.readouterr().out
    ExportRun.objects.filter(pk=run.pk).update(plan={**ExportRun.objects.get(pk=run.pk).plan, "policy_version": 9})
    with pytest.raises(CommandError, match="does NOT match"):
        call_command("verify_export", str(run.pk))


def test_a_rollback_exports_the_earlier_version(shop):
    schema, first, target = shop
    services.export_request(actor="test", target=target, version=first)
    services.export_run_execute(version_id=first.pk, target_id=target.pk)
    second = make_policy(schema)
    services.export_request(actor="test", target=target, version=second)
    services.export_run_execute(version_id=second.pk, target_id=target.pk)

    policy_rollback(actor="test", schema=schema, number=first.number)  # queues the export (sent on commit)
    run = ExportRun.objects.filter(policy_version=first).order_by("-pk").first()
    assert run.status == ExportRun.Status.QUEUED and run.trigger == "rollback"
    outcome = services.export_run_execute(version_id=first.pk, target_id=target.pk)
    run.refresh_from_db()
    assert outcome.status == "succeeded" and run.plan["stage"]["variables"]["gqlgov_policy_version"] == "1"
    assert run.deployment_id  # the stage now serves version 1 again


@pytest.mark.django_db(transaction=True)
def test_sync_gateway_waits_for_a_real_worker(moto_url, celery_worker, capsys):
    schema = make_schema()
    make_agents()
    make_policy(schema)
    make_function(moto_url)
    make_target(schema, moto_url)
    call_command("sync_gateway", "shop-prod", "--wait", "--timeout", "90")
    out = capsys.readouterr().out
    assert "succeeded" in out and "create REST API gqlgov-shop-prod" in out


def export_url(run_id: int) -> str:
    return reverse("api:get_export", kwargs={"run_id": run_id})


def test_staff_read_an_export_with_its_calls(shop, client):
    _, version, target = shop
    run = services.export_request(actor="test", target=target, version=version)
    services.export_run_execute(version_id=version.pk, target_id=target.pk)
    staff = make_principal("ci-bot", "service", groups=["gqlgov-admins"])
    response = client.get(export_url(run.pk), **bearer(issue_token_for(staff)))
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "succeeded" and body["policy_version"] == version.number
    assert body["calls"] and {"action", "resource", "outcome"} <= set(body["calls"][0])
    assert body["report"][0]["rule"] == "support-reads-orders"


def test_exports_are_for_staff_only(shop, client):
    _, version, target = shop
    run = services.export_request(actor="test", target=target, version=version)
    url = export_url(run.pk)
    assert client.get(url).status_code == 401
    outsider = make_principal("outsider-bot", "ai")
    assert client.get(url, **bearer(issue_token_for(outsider))).status_code == 403
    staff = make_principal("ci-bot", "service", groups=["gqlgov-admins"])
    assert client.get(export_url(run.pk + 1000), **bearer(issue_token_for(staff))).status_code == 404
