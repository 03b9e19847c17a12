"""GET /api/v1/schemas/{name}/sdl and GET /api/v1/agents/me/capabilities: each caller's own view."""

import graphql
import pytest

from policies.checks.caches import CACHES
from tests.conftest import bearer, issue_token_for, make_principal
from tests.policies.conftest import SHOP_SDL

pytestmark = pytest.mark.django_db

SDL = "/api/v1/schemas/shop/sdl"
CAPABILITIES = "/api/v1/agents/me/capabilities"


@pytest.fixture
def outsider_token(db) -> str:
    return issue_token_for(make_principal("outsider", "service"))


def test_the_own_schema_needs_authentication(client, shop):
    assert client.get(SDL).status_code == 401
    assert client.get(CAPABILITIES).status_code == 401


def test_an_agent_gets_the_sdl_its_rules_allow_as_text(client, shop, agent_token):
    response = client.get(SDL, **bearer(agent_token))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    sdl = response.content.decode()
    assert sdl.startswith("# The schema 'shop' (version 1) as ai 'support-bot' may ask it under policy version")
    schema = graphql.build_schema(sdl)
    assert schema.query_type is not None
    assert set(schema.query_type.fields) == {"order", "orders", "customer", "node"}
    customer = schema.get_type("Customer")
    assert isinstance(customer, graphql.GraphQLObjectType)
    assert {"ssn", "cardNumber"}.isdisjoint(customer.fields)
    assert "ssn" not in sdl.split("\n\n", 1)[1]


def test_each_caller_sees_its_own_rules_not_another_agents(client, shop, agent_token):
    service = issue_token_for(make_principal("support-service", "service", groups=["support"]))

    ai_schema = graphql.build_schema(client.get(SDL, **bearer(agent_token)).content.decode())
    service_schema = graphql.build_schema(client.get(SDL, **bearer(service)).content.decode())

    assert ai_schema.mutation_type is not None and service_schema.mutation_type is not None
    # refunds-need-a-human names the ai kind: the service in the same group does not get it.
    assert "refundOrder" in ai_schema.mutation_type.fields
    assert set(service_schema.mutation_type.fields) == {"updatePayment", "login"}


def test_the_introspection_format_loads_in_graphql_tooling(client, shop, agent_token):
    response = client.get(SDL + "?format=introspection", **bearer(agent_token))

    assert response.status_code == 200
    body = response.json()
    schema = graphql.build_client_schema(body)
    assert schema.query_type is not None
    assert "ssn" not in str(body)
    assert set(schema.query_type.fields) == {"order", "orders", "customer", "node"}


def test_an_unknown_format_gets_422_in_the_one_error_shape(client, shop, agent_token):
    response = client.get(SDL + "?format=json", **bearer(agent_token))

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"


def test_an_unknown_schema_gets_404(client, shop, agent_token):
    response = client.get("/api/v1/schemas/nope/sdl", **bearer(agent_token))

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"


def test_a_schema_without_an_active_policy_gets_409_no_active_policy(client, shop_schema, agent_token):
    response = client.get(SDL, **bearer(agent_token))

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "NO_ACTIVE_POLICY"


def test_a_caller_that_may_call_no_query_gets_404_as_for_an_unknown_schema(client, shop, outsider_token):
    response = client.get(SDL, **bearer(outsider_token))
    unknown = client.get("/api/v1/schemas/nope/sdl", **bearer(outsider_token))

    assert response.status_code == 404
    assert response.json()["error"]["code"] == unknown.json()["error"]["code"]


def test_the_own_schema_is_cached_per_policy_version_and_agent(client, shop, agent_token):
    client.get(SDL, **bearer(agent_token))
    client.get(SDL, **bearer(agent_token))

    cache = CACHES["own_schemas"].cache
    assert cache.hits >= 1


def test_capabilities_list_what_the_agent_may_call_with_effects_and_limits(client, shop, agent_token):
    response = client.get(CAPABILITIES, **bearer(agent_token))

    assert response.status_code == 200
    body = response.json()
    assert body["agent"] == {"name": "support-bot", "kind": "ai", "groups": ["support"]}
    (schema,) = body["schemas"]
    assert schema["schema"] == "shop"
    operations = {entry["operation"]: entry for entry in schema["operations"]}
    assert set(operations) == {
        "query.order", "query.orders", "query.customer", "query.node",
        "mutation.updatePayment", "mutation.login", "mutation.refundOrder",
    }
    assert operations["query.orders"]["effect"] == "allow"
    assert operations["query.orders"]["limits"]["max_depth"] == 6
    assert operations["mutation.refundOrder"]["effect"] == "require_approval"
    assert operations["mutation.refundOrder"]["conditions"] == []
    assert "deleteOrder" not in str(body)


def test_capabilities_of_an_outsider_list_no_schema(client, shop, outsider_token):
    response = client.get(CAPABILITIES, **bearer(outsider_token))

    assert response.status_code == 200
    assert response.json()["schemas"] == []


def test_the_full_schema_stays_staff_only(client, shop, agent_token):
    assert "ssn" in SHOP_SDL
    assert client.get("/api/v1/schemas/shop", **bearer(agent_token)).status_code == 403


def test_capabilities_report_what_is_left_of_each_limit_without_charging_it(client, shop_schema, agent_token):
    from tests.policies.conftest import SHOP_POLICY, activate_policy, check_shop

    activate_policy(SHOP_POLICY.replace(
        "  introspection: deny\n", "  introspection: deny\n  rate_limits: [{requests: 50, per: minute}]\n"))
    check_shop(client, agent_token, "{ orders(first: 2) { totalCount } }")

    def remaining() -> int:
        (schema,) = client.get(CAPABILITIES, **bearer(agent_token)).json()["schemas"]
        (state,) = [limit for limit in schema["rate_limit_state"] if limit["policy"] == "defaults/requests"]
        assert state["limit"] == 50 and state["per_s"] == 60
        return state["remaining"]

    assert remaining() == 49
    assert remaining() == 49  # reading it charges nothing
    check_shop(client, agent_token, "{ orders(first: 2) { totalCount } }")
    assert remaining() == 48
