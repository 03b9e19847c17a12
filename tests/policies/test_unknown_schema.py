"""UNKNOWN_SCHEMA names the registered schemas the caller may check, and only those."""

import json

import pytest

from policies.services import schema_register
from tests.conftest import bearer, issue_token_for, make_principal
from tests.policies.conftest import SHOP_SDL, activate_policy

pytestmark = pytest.mark.django_db
ORDERS = "{ orders(first: 5) { edges { node { id } } } }"


def unknown_schema_reason(client, token, **body):
    response = client.post("/api/v1/check", data=json.dumps({"query": ORDERS, **body}),
                           content_type="application/json", **bearer(token))
    assert response.status_code == 200
    [reason] = response.json()["reasons"]
    assert reason["code"] == "UNKNOWN_SCHEMA"
    return reason


@pytest.fixture
def two_schemas(shop):
    """shop (its policy admits the support group) and billing (admits only the billing group)."""
    schema_register(actor="test", name="billing", sdl=SHOP_SDL)
    activate_policy(
        "schema: billing\nrules:\n  - {id: billing, effect: allow, subjects: {groups: [billing]},"
        " operations: ['query.*']}\n"
    )


def test_an_unknown_schema_lists_the_schemas_the_caller_may_check(client, two_schemas, agent_token):
    reason = unknown_schema_reason(client, agent_token, schema="shpo")

    assert reason["message"] == "No schema named 'shpo' is registered. Registered schemas you may check: shop."
    assert reason["hint"] == "Set 'schema' to 'shop'."


def test_a_check_naming_no_schema_among_several_lists_those_the_caller_may_check(client, two_schemas):
    both = make_principal("both-bot", "ai", groups=["support", "billing"])

    reason = unknown_schema_reason(client, issue_token_for(both))

    assert reason["message"] == "Name a registered schema in 'schema'. Registered schemas you may check: billing, shop."
    assert reason["hint"] == "Set 'schema' to one of: 'billing', 'shop'."


def test_a_caller_no_policy_admits_is_told_so_and_sees_no_schema_name(client, two_schemas):
    outsider = make_principal("outsider-bot", "service")

    reason = unknown_schema_reason(client, issue_token_for(outsider), schema="shpo")

    assert "shop" not in reason["message"] + reason["hint"] and "billing" not in reason["message"]
    assert reason["message"].endswith("No registered schema has a policy that lets you call anything yet.")
