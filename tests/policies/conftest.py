"""Factories for a registered `shop` schema with an approved policy."""

import json
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from policies import engine
from policies.services import policy_approve, policy_load, schema_register

DEMO = Path(__file__).resolve().parents[2] / "policies" / "demo"
SHOP_SDL = (DEMO / "shop.graphql").read_text()

SHOP_POLICY = """
schema: shop
defaults:
  limits: {max_depth: 8, max_aliases: 15, max_root_fields: 5, max_tokens: 2000, max_directives: 20, max_cost: 1000}
  introspection: deny
sensitive_arguments: ["*.password", "Mutation.updatePayment.card"]
rules:
  - id: support-reads-orders
    effect: allow
    subjects: {groups: [support]}
    operations: ["query.order", "query.orders*", "query.customer", "query.node"]
    limits: {max_depth: 6, max_cost: 300}
    fields: {deny: ["Customer.ssn", "Customer.cardNumber"]}
  - {id: payments, effect: allow, subjects: {groups: [support]}, operations: ["mutation.updatePayment", "mutation.login"]}
  - {id: no-ai-deletes, effect: deny, subjects: {kinds: [ai]}, operations: ["mutation.delete*"]}
  - {id: refunds-need-a-human, effect: require_approval, subjects: {kinds: [ai]}, operations: ["mutation.refundOrder"]}
"""


def check_shop(client, token, query: str) -> dict:
    """POST /api/v1/check of `query` on the shop schema with `token`: the answer's body."""
    response = client.post("/api/v1/check", data=json.dumps({"schema": "shop", "query": query}),
                           content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}")
    return response.json()


def users():
    model = get_user_model()
    author = model.objects.filter(username="author").first() or model.objects.create_user("author")
    approver = model.objects.filter(username="approver").first() or model.objects.create_superuser(
        "approver", "approver@example.com", "x-password-1"
    )
    return author, approver


def activate_policy(policy_yaml: str):
    """Loads and approves a policy; returns the approved version."""
    author, approver = users()
    version = policy_load(author=author, document=engine.parse_policy_yaml(policy_yaml))
    return policy_approve(approver=approver, version=version)


@pytest.fixture
def shop_schema(db):
    version, _created = schema_register(actor="test", name="shop", sdl=SHOP_SDL)
    return version


@pytest.fixture
def shop(shop_schema):
    return activate_policy(SHOP_POLICY)
