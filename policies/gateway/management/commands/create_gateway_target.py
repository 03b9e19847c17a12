from django.core.management.base import BaseCommand

from gqlgov.cli import cli_actor, run_service
from policies.gateway.enforcement import SUMMARIES
from policies.gateway.models import GatewayTarget
from policies.gateway.services import target_create
from policies.gateway.stage_settings import DEFAULT_RETENTION_DAYS, LOG_LEVELS, RETENTION_DAYS
from policies.selectors import schema_by_name


class Command(BaseCommand):
    help = "Create an API Gateway target that the schema's approved policies are exported to."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--schema", required=True)
        parser.add_argument("--region", required=True)
        parser.add_argument("--stage", required=True)
        backend = parser.add_mutually_exclusive_group(required=True)
        backend.add_argument("--lambda-arn", default="", help="backend Lambda function (AWS_PROXY)")
        backend.add_argument("--http-url", default="", help="backend URL (HTTP_PROXY)")
        parser.add_argument("--rest-api-id", default="", help="existing REST API (default: gqlgov creates one)")
        parser.add_argument("--account-id", default="")
        parser.add_argument("--endpoint-url", default="", help="moto or LocalStack only")
        parser.add_argument("--auth", choices=["iam", "api_key", "both"], default="both")
        parser.add_argument("--kms-key-id", default="", help="symmetric KMS key for the API key values gqlgov holds")
        parser.add_argument("--signing-key-id", default="", help="asymmetric RSA KMS key that signs each plan")
        parser.add_argument("--auto-heal", action="store_true", help="re-apply when drift is detected")
        parser.add_argument(
            "--enforce",
            choices=GatewayTarget.Enforcement.values,
            default=GatewayTarget.Enforcement.BACKEND,
            help="who verifies the pre-check's decision: the backend (gqlgov_verify.lambda_guard), "
            "an API Gateway authorizer, or none (advisory)",
        )
        parser.add_argument("--authorizer-arn", default="", help="authorizer mode: an existing authorizer function")
        parser.add_argument(
            "--authorizer-role-arn",
            default="",
            help="authorizer mode: execution role of the function gqlgov deploys (when no --authorizer-arn)",
        )
        parser.add_argument(
            "--require-full-coverage",
            action="store_true",
            help="refuse exports while schema operations are ungoverned",
        )
        logging = parser.add_argument_group("stage logging and metrics (CloudWatch)")
        logging.add_argument(
            "--no-access-log", action="store_true", help="no access log group /aws/apigateway/gqlgov-<name>"
        )
        logging.add_argument(
            "--access-log-retention-days",
            type=int,
            choices=RETENTION_DAYS,
            default=DEFAULT_RETENTION_DAYS,
            metavar="DAYS",
            help=f"days the access log is kept (0: forever; default {DEFAULT_RETENTION_DAYS})",
        )
        logging.add_argument("--execution-logging", choices=LOG_LEVELS, default="OFF", help="execution log level")
        logging.add_argument("--detailed-metrics", action="store_true", help="per-method CloudWatch metrics")
        logging.add_argument(
            "--cloudwatch-role-arn", default="", help="role API Gateway logs with, set on the account when it has none"
        )

    def handle(self, *args, **opts):
        target = run_service(
            lambda: target_create(
                actor=cli_actor(),
                name=opts["name"],
                schema=schema_by_name(opts["schema"]),
                region=opts["region"],
                stage_name=opts["stage"],
                lambda_arn=opts["lambda_arn"],
                http_url=opts["http_url"],
                rest_api_id=opts["rest_api_id"],
                account_id=opts["account_id"],
                endpoint_url=opts["endpoint_url"],
                auth_mode=opts["auth"],
                kms_key_id=opts["kms_key_id"],
                signing_key_id=opts["signing_key_id"],
                auto_heal=opts["auto_heal"],
                require_full_coverage=opts["require_full_coverage"],
                access_logging=not opts["no_access_log"],
                access_log_retention_days=opts["access_log_retention_days"],
                execution_log_level=opts["execution_logging"],
                detailed_metrics=opts["detailed_metrics"],
                cloudwatch_role_arn=opts["cloudwatch_role_arn"],
                enforcement=opts["enforce"],
                authorizer_arn=opts["authorizer_arn"],
                authorizer_role_arn=opts["authorizer_role_arn"],
            )
        )
        self.stdout.write(
            f"Created gateway target {target.name} for schema {opts['schema']} "
            f"(stage {target.stage_name}, {target.region}).\nEnforcement {SUMMARIES[target.enforcement]}"
        )
