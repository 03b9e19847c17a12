"""Small typed factories for export tests: plain plan inputs, and ORM rows for services."""

from __future__ import annotations

import copy
from typing import Any

LAMBDA_ARN = "arn:aws:lambda:us-east-1:123456789012:function:shop-graphql"
AUTHORIZER_ARN = "arn:aws:lambda:us-east-1:123456789012:function:shop-authorizer"
LAMBDA_ROLE = "arn:aws:iam::123456789012:role/gqlgov-lambda"
SUPPORT_ROLE = "arn:aws:iam::123456789012:role/support-bot"
REPORTS_ROLE = "arn:aws:iam::123456789012:role/reports-bot"
AUDIT_ROLE = "arn:aws:iam::123456789012:role/audit-bot"

SHOP_OPERATIONS = [
    "query.order",
    "query.orders",
    "query.ordersByCustomer",
    "query.customer",
    "mutation.refundOrder",
    "mutation.deleteOrder",
    "mutation.updateOrder",
]

SHOP_SDL = """
type Query {
  order(id: ID!): Order
  orders(first: Int): [Order]
  ordersByCustomer(id: ID!): [Order]
  customer(id: ID!): Customer
}
type Mutation { refundOrder(id: ID!): Order deleteOrder(id: ID!): Boolean updateOrder(id: ID!): Order }
type Order { id: ID! total: Int customer: Customer }
type Customer { id: ID! name: String ssn: String }
"""

SHOP_POLICY: dict[str, Any] = {
    "schema": "shop",
    "defaults": {
        "limits": {"max_depth": 8},
        "rate_limits": [
            {"requests": 600, "per": "minute", "burst": 50},
            {"requests": 10000, "per": "day"},
            {"cost": 5000, "per": "hour"},
        ],
    },
    "rules": [
        {
            "id": "support-reads-orders",
            "effect": "allow",
            "subjects": {"agents": ["support-bot"], "groups": ["support"]},
            "operations": ["query.order", "query.orders*"],
            "when": {"source_ips": ["10.0.0.0/8"], "hours": {"from": "08:00", "to": "18:00"}},
            "limits": {"max_depth": 6},
            "fields": {"deny": ["Customer.ssn"]},
            "rate_limits": [{"requests": 60, "per": "minute", "burst": 10}],
        },
        {
            "id": "reports-read-everything",
            "effect": "allow",
            "subjects": {"agents": ["reports-bot"]},
            "operations": ["query.*"],
        },
        {
            "id": "no-ai-deletes",
            "effect": "deny",
            "subjects": {"kinds": ["ai"]},
            "operations": ["mutation.delete*"],
        },
        {
            "id": "refunds-need-a-human",
            "effect": "require_approval",
            "subjects": {"kinds": ["ai"]},
            "operations": ["mutation.refundOrder"],
        },
    ],
}


def policy_document(**changes: Any) -> dict[str, Any]:
    document = copy.deepcopy(SHOP_POLICY)
    document.update(changes)
    return document


def agent_data(
    name: str, *, kind: str = "ai", groups: list[str] | None = None, role: str = "", status: str = "active"
) -> dict[str, Any]:
    return {"name": name, "kind": kind, "groups": groups or [], "iam_role_arn": role, "status": status}


def shop_agents() -> list[dict[str, Any]]:
    return [
        agent_data("support-bot", groups=["support"], role=SUPPORT_ROLE),
        agent_data("reports-bot", role=REPORTS_ROLE),
        agent_data("suspended-bot", groups=["support"], role=AUDIT_ROLE, status="suspended"),
    ]


def target_data(**changes: Any) -> dict[str, Any]:
    target = {
        "name": "shop-prod",
        "stage_name": "prod",
        "region": "us-east-1",
        "account_id": "123456789012",
        "rest_api_id": "",
        "lambda_arn": LAMBDA_ARN,
        "http_url": "",
        "auth_mode": "both",
    }
    target.update(changes)
    return target


def shop_plan(
    document: dict[str, Any] | None = None,
    *,
    operations: list[str] | None = None,
    agents: list[dict[str, Any]] | None = None,
    policy_version: int = 1,
    verifier: Any = None,
    **target: Any,
) -> dict[str, Any]:
    from policies.gateway.plan import build_plan

    return build_plan(
        document=document or policy_document(),
        operations=SHOP_OPERATIONS if operations is None else operations,
        agents=shop_agents() if agents is None else agents,
        target=target_data(**target),
        schema_name="shop",
        schema_version=1,
        policy_version=policy_version,
        verifier=verifier,
    )


def verifier() -> Any:
    """The verifier package as a plan input, for plans that are not applied (no zip needed)."""
    from policies.gateway.enforcement import VerifierPackage

    return VerifierPackage(
        zip_file="/srv/gqlgov/var/gqlgov-verify-lambda.zip",
        code_sha256="47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
        issuer="https://gqlgov.example.com",
        jwks_url="https://gqlgov.example.com/api/v1/.well-known/jwks.json",
    )


def verifier_zip(directory) -> Any:
    """The verifier package without its dependencies, zipped into `directory` (moto stores the
    code, it never runs it), as the plan's input."""
    from pathlib import Path

    from django.conf import settings

    from policies.gateway.verifier_package import build_verifier_zip, verifier_package

    path = Path(directory) / "gqlgov-verify-lambda.zip"
    build_verifier_zip(Path(settings.BASE_DIR) / "gqlgov-verify", path, dependencies=False)
    return verifier_package(str(path), "https://gqlgov.example.com")


def make_lambda_role(moto_url: str) -> str:
    """The execution role Lambda functions get on the moto server (it checks that the role exists)."""
    from botocore.exceptions import ClientError

    from policies.gateway.aws import aws_client

    iam = aws_client("iam", region="us-east-1", endpoint_url=moto_url)
    try:
        return iam.create_role(RoleName=LAMBDA_ROLE.rsplit("/", 1)[1], AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    except ClientError:
        return LAMBDA_ROLE  # already there


def make_function(moto_url: str, arn: str = LAMBDA_ARN) -> str:
    """A Lambda function on the moto server (the shop's GraphQL backend by default)."""
    import io
    import zipfile

    from policies.gateway.aws import aws_client

    client = aws_client("lambda", region="us-east-1", endpoint_url=moto_url)
    name = arn.rsplit(":", 1)[1]
    if name in {f["FunctionName"] for f in client.list_functions()["Functions"]}:
        return arn
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return {'statusCode': 200}\n")
    role = make_lambda_role(moto_url)
    client.create_function(
        FunctionName=name, Runtime="python3.11", Role=role, Handler="handler.handler", Code={"ZipFile": code.getvalue()}
    )
    return arn


def lambda_client(moto_url: str) -> Any:
    from policies.gateway.aws import aws_client

    return aws_client("lambda", region="us-east-1", endpoint_url=moto_url)


# --- ORM rows ---------------------------------------------------------------------------------


def make_schema(name: str = "shop", sdl: str = SHOP_SDL, operations: list[str] | None = None):
    """A schema with one version, built with the ORM (no registry service needed)."""
    import hashlib

    from policies.models import Schema, SchemaVersion

    schema, _ = Schema.objects.get_or_create(name=name)
    number = schema.versions.count() + 1
    version = SchemaVersion.objects.create(
        schema=schema,
        number=number,
        sdl=sdl,
        content_hash=hashlib.sha256(sdl.encode()).hexdigest(),
        operations=list(SHOP_OPERATIONS if operations is None else operations),
        created_by="test",
    )
    schema.latest_version = version
    schema.save(update_fields=["latest_version"])
    return schema


def make_policy(schema, document: dict[str, Any] | None = None, *, status: str = "approved", activate: bool = True,
                pinned: bool = True):
    """A policy version pinned to the schema's latest version (`pinned=False`: no pin, as a version
    approved before pinning existed would be)."""
    from policies.models import PolicyVersion

    number = schema.policy_versions.count() + 1
    version = PolicyVersion.objects.create(
        schema=schema, number=number, document=document or policy_document(), status=status,
        schema_version=schema.latest_version if pinned else None,
    )
    if activate and status == "approved":
        schema.active_policy = version
        schema.save(update_fields=["active_policy"])
    return version


def make_agents() -> list[Any]:
    from agents.models import Principal

    return [Principal.objects.create(**{k: v for k, v in data.items()}) for data in shop_agents()]


def make_target(schema, moto_url: str, **fields: Any):
    from policies.gateway.services import target_create

    options = {
        "name": "shop-prod",
        "region": "us-east-1",
        "stage_name": "prod",
        "lambda_arn": LAMBDA_ARN,
        "account_id": "123456789012",
        "endpoint_url": moto_url,
    }
    options.update(fields)
    return target_create(actor="test", schema=schema, **options)


def run_export(version, target, actor: str = "test"):
    """Requests and runs an export in-process; the run (refreshed) and the outcome."""
    from policies.gateway import services

    run = services.export_request(actor=actor, target=target, version=version)
    outcome = services.export_run_execute(version_id=version.pk, target_id=target.pk)
    run.refresh_from_db()
    return run, outcome


def make_kms_keys(moto_url: str) -> tuple[str, str]:
    """A symmetric key for secrets and an RSA signing key, on the moto server."""
    from policies.gateway.aws import aws_client

    kms = aws_client("kms", region="us-east-1", endpoint_url=moto_url)
    secret_key = kms.create_key(Description="gqlgov secrets")["KeyMetadata"]["KeyId"]
    signing_key = kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec="RSA_2048", Description="gqlgov plan signatures")[
        "KeyMetadata"
    ]["KeyId"]
    return secret_key, signing_key
