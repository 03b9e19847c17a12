"""Enforcement through the export services: targets' modes (audited, validated), an authorizer
deployed from the verifier package and read back from moto, invoke permissions and their drift."""

import json

import pytest

from agents.models import AuditEvent
from gqlgov.errors import ApiError
from policies.gateway import services
from policies.gateway.aws import aws_client
from policies.gateway.models import ExportRun
from tests.gateway.aws import assert_authorizer_on_every_method
from tests.gateway.factories import (
    AUTHORIZER_ARN,
    LAMBDA_ARN,
    lambda_client,
    make_lambda_role,
    make_schema,
    make_target,
    run_export,
)

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


def test_targets_verify_at_the_backend_unless_told_otherwise_and_the_mode_is_audited(shop, moto_url):
    schema, _, target = shop
    assert target.enforcement == "backend"
    advisory = make_target(schema, moto_url, name="shop-advisory", enforcement="none")
    events = {e.target_id: e.details for e in AuditEvent.objects.filter(action="export.target_created")}
    assert events[str(target.pk)]["enforcement"] == "backend"
    assert events[str(advisory.pk)]["enforcement"] == "none"
    assert advisory.get_enforcement_display().startswith("Advisory")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"enforcement": "authorizer"}, "needs an existing authorizer function"),
        ({"enforcement": "backend", "authorizer_arn": AUTHORIZER_ARN}, "for authorizer enforcement only"),
        ({"enforcement": "none", "authorizer_role_arn": "arn:aws:iam::123456789012:role/x"}, "authorizer enforcement"),
        ({"enforcement": "authorizer", "authorizer_arn": "shop-authorizer"}, "Give a Lambda function ARN"),
        ({"enforcement": "authorizer", "authorizer_role_arn": "x"}, "Give an IAM role ARN"),
        ({"enforcement": "strict"}, "enforcement"),
    ],
)
def test_a_target_s_authorizer_settings_are_checked(fields, message):
    schema = make_schema()
    with pytest.raises(ApiError, match=message) as refused:
        make_target(schema, "http://127.0.0.1:9", lambda_arn="", http_url="https://x.example/graphql", **fields)
    assert refused.value.code == "VALIDATION_ERROR" and refused.value.status == 422


def test_an_authorizer_target_deploys_the_verifier_package_and_reads_back_from_moto(shop, moto_url, settings, tmp_path):
    from django.core.management import call_command

    schema, version, _ = shop
    settings.GQLGOV_AUTHORIZER_ZIP = str(tmp_path / "verifier.zip")
    settings.GQLGOV_PUBLIC_URL = "https://gqlgov.example.com"
    call_command("build_verifier_package", "--without-dependencies", verbosity=0)
    target = make_target(
        schema, moto_url, name="shop-auth", enforcement="authorizer", authorizer_role_arn=make_lambda_role(moto_url)
    )
    run, _ = run_export(version, target)
    assert run.status == ExportRun.Status.SUCCEEDED, run.error
    apigateway = aws_client("apigateway", region="us-east-1", endpoint_url=moto_url)
    assert_authorizer_on_every_method(apigateway, run.rest_api_id, run.plan)

    functions = lambda_client(moto_url)
    function = functions.get_function(FunctionName="gqlgov-decision-shop-auth")
    config = function["Configuration"]
    assert (config["Runtime"], config["Handler"]) == ("python3.11", "gqlgov_verify.authorizer.handler")
    assert config["Environment"]["Variables"] == {
        "GQLGOV_JWKS_URL": "https://gqlgov.example.com/api/v1/.well-known/jwks.json",
        "GQLGOV_ISSUER": "https://gqlgov.example.com",
    }
    assert function["Tags"]["managed-by"] == "gqlgov" and function["Tags"]["gqlgov:target"] == "shop-auth"
    [authorizer] = apigateway.get_authorizers(restApiId=run.rest_api_id)["items"]
    assert authorizer["authorizerUri"].endswith(f"/functions/{config['FunctionArn']}/invocations")
    [statement] = json.loads(functions.get_policy(FunctionName="gqlgov-decision-shop-auth")["Policy"])["Statement"]
    assert statement["Condition"]["ArnLike"]["AWS:SourceArn"] == (
        f"arn:aws:execute-api:us-east-1:123456789012:{run.rest_api_id}/*"
    )
    assert services.drift_check(target=target) is None


def test_an_authorizer_target_without_the_verifier_zip_fails_saying_how_to_build_it(shop, moto_url, settings, tmp_path):
    schema, version, _ = shop
    settings.GQLGOV_AUTHORIZER_ZIP = str(tmp_path / "missing.zip")
    target = make_target(
        schema, moto_url, name="shop-auth", enforcement="authorizer", authorizer_role_arn=make_lambda_role(moto_url)
    )
    run, outcome = run_export(version, target)
    assert outcome.status == ExportRun.Status.FAILED
    assert run.error.startswith("VERIFIER_PACKAGE_MISSING") and "build_verifier_package" in run.error
    assert not run.calls.exists()  # refused before any AWS call


def test_lambda_permissions_are_scoped_to_the_api_and_drift_reports_a_removed_one(shop):
    _, version, target = shop
    run, _ = run_export(version, target)
    functions = lambda_client(target.endpoint_url)
    [statement] = json.loads(functions.get_policy(FunctionName=LAMBDA_ARN)["Policy"])["Statement"]
    assert statement["Sid"] == "gqlgov-shop-prod-backend"
    assert statement["Principal"] == {"Service": "apigateway.amazonaws.com"}
    assert statement["Condition"] == {
        "ArnLike": {"AWS:SourceArn": f"arn:aws:execute-api:us-east-1:123456789012:{run.rest_api_id}/*"}
    }
    assert services.drift_check(target=target) is None

    functions.remove_permission(FunctionName=LAMBDA_ARN, StatementId="gqlgov-shop-prod-backend")
    report = services.drift_check(target=target)
    assert report is not None
    assert [d["action"] for d in report.differences] == ["add_permission"]
    assert "gqlgov-shop-prod-backend" in report.differences[0]["change"]
    assert run.report and run.plan["enforcement"]["mode"] == "backend"
