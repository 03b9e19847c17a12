"""Small typed factories for export tests: plain plan inputs, and ORM rows for services."""

from __future__ import annotations

import copy
from typing import Any

LAMBDA_ARN = "arn:aws:lambda:us-east-1:123456789012:function:shop-graphql"
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
    )


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


def make_policy(schema, document: dict[str, Any] | None = None, *, status: str = "approved", activate: bool = True):
    from policies.models import PolicyVersion

    number = schema.policy_versions.count() + 1
    version = PolicyVersion.objects.create(
        schema=schema, number=number, document=document or policy_document(), status=status
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


def make_kms_keys(moto_url: str) -> tuple[str, str]:
    """A symmetric key for secrets and an RSA signing key, on the moto server."""
    from policies.gateway.aws import aws_client

    kms = aws_client("kms", region="us-east-1", endpoint_url=moto_url)
    secret_key = kms.create_key(Description="gqlgov secrets")["KeyMetadata"]["KeyId"]
    signing_key = kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec="RSA_2048", Description="gqlgov plan signatures")[
        "KeyMetadata"
    ]["KeyId"]
    return secret_key, signing_key
