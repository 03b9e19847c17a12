"""The plan builder: pure data in, desired gateway state out (no database, no AWS)."""

import json

from policies.engine import compile_policy
from policies.gateway.limits import MAX_POLICY_CHARS, PlanLimitError, check_plan, validate_plan
from policies.gateway.plan import build_plan, plan_hash
from tests.gateway.factories import (
    REPORTS_ROLE,
    SHOP_OPERATIONS,
    SUPPORT_ROLE,
    agent_data,
    policy_document,
    shop_agents,
    shop_plan,
    target_data,
)


def statements_for(plan, role):
    return [
        s
        for s in plan["api"]["policy"]["Statement"]
        if isinstance(s["Principal"], dict) and role in s["Principal"]["AWS"]
    ]


def test_every_governed_operation_gets_a_post_route_plus_the_whole_document_route():
    plan = shop_plan()
    paths = [route["path"] for route in plan["routes"]]
    assert paths[0] == "/graphql"
    assert "/graphql/query.orders" in paths and "/graphql/mutation.deleteOrder" in paths
    assert "/graphql/mutation.updateOrder" not in paths  # no rule names it: the pre-check denies it
    assert len(paths) == 7
    assert plan["method"] == {
        "httpMethod": "POST",
        "authorizationType": "AWS_IAM",
        "apiKeyRequired": True,
        "requestModels": {"application/json": "GqlgovGraphQLRequest"},
    }
    assert plan["model"]["schema"]["required"] == ["query"]
    assert plan["integration"]["type"] == "AWS_PROXY"


def test_http_backends_get_an_http_proxy_integration():
    plan = shop_plan(lambda_arn="", http_url="https://backend.internal/graphql")
    assert plan["integration"] == {
        "type": "HTTP_PROXY",
        "httpMethod": "POST",
        "uri": "https://backend.internal/graphql",
    }


def test_allowed_routes_carry_the_source_ip_condition_of_their_rule():
    plan = shop_plan()
    support = statements_for(plan, SUPPORT_ROLE)
    with_ip = [s for s in support if s["Effect"] == "Allow" and "Condition" in s]
    assert len(with_ip) == 1
    assert with_ip[0]["Condition"] == {"IpAddress": {"aws:SourceIp": ["10.0.0.0/8"]}}
    assert "execute-api:/prod/POST/graphql/query.ordersByCustomer" in with_ip[0]["Resource"]
    # In backend mode require_approval admits at the gateway (the decision token carries the
    # approval); support-bot is not admitted to everything, so it gets no /graphql.
    unconditional = [s for s in support if s["Effect"] == "Allow" and "Condition" not in s]
    assert unconditional[0]["Resource"] == ["execute-api:/prod/POST/graphql/mutation.refundOrder"]


def test_deny_rules_become_explicit_denies_shared_by_agents_with_the_same_denial():
    plan = shop_plan()
    denies = [
        s for s in plan["api"]["policy"]["Statement"] if s["Effect"] == "Deny" and s["Sid"] != "GqlgovDenyUnlisted"
    ]
    assert len(denies) == 1
    assert denies[0]["Principal"] == {"AWS": [REPORTS_ROLE, SUPPORT_ROLE]}
    assert denies[0]["Resource"] == [
        "execute-api:/prod/POST/graphql",
        "execute-api:/prod/POST/graphql/mutation.deleteOrder",
    ]


def test_suspended_agents_and_agents_without_a_role_get_no_statement():
    plan = shop_plan(
        agents=[
            agent_data("support-bot", groups=["support"], role=SUPPORT_ROLE, status="suspended"),
            agent_data("reports-bot"),
        ]
    )
    policy = plan["api"]["policy"]
    assert [s["Sid"] for s in policy["Statement"]] == ["GqlgovDenyUnlisted"]
    assert "Condition" not in policy["Statement"][0]  # nobody is listed: every IAM caller is denied
    assert [p["agent"] for p in plan["usage_plans"]] == ["reports-bot"]  # API keys need no role


def test_an_agent_allowed_everything_gets_a_wildcard_resource():
    document = policy_document(
        rules=[{"id": "all", "effect": "allow", "subjects": {"agents": ["reports-bot"]}, "operations": ["*"]}]
    )
    plan = shop_plan(document)
    allow = [s for s in plan["api"]["policy"]["Statement"] if s["Effect"] == "Allow"]
    assert allow[0]["Resource"] == ["execute-api:/prod/POST/graphql", "execute-api:/prod/POST/graphql/*"]


def test_usage_plans_take_throttle_from_defaults_quota_from_daily_limits_and_method_throttles_from_rules():
    plan = shop_plan()
    support = next(p for p in plan["usage_plans"] if p["agent"] == "support-bot")
    assert support["throttle"] == {"rateLimit": 10, "burstLimit": 50}  # 600/minute
    assert support["quota"] == {"limit": 10000, "period": "DAY", "offset": 0}
    assert support["method_throttles"]["/graphql/query.orders/POST"] == {"rateLimit": 1, "burstLimit": 10}
    assert "/graphql/mutation.refundOrder/POST" not in support["method_throttles"]


def test_stage_variables_name_the_policy_version_and_the_plan():
    plan = shop_plan(policy_version=7)
    variables = plan["stage"]["variables"]
    assert variables["gqlgov_policy_version"] == "7"
    assert variables["gqlgov_schema"] == "shop"
    assert len(variables["gqlgov_plan_hash"]) == 32
    assert plan["tags"] == {
        "managed-by": "gqlgov",
        "gqlgov:schema": "shop",
        "gqlgov:target": "shop-prod",
        "gqlgov:policy-version": "7",
    }


def test_the_plan_is_deterministic_and_json_serialisable():
    first, second = (
        shop_plan(),
        shop_plan(
            agents=list(
                reversed(
                    [
                        agent_data("support-bot", groups=["support"], role=SUPPORT_ROLE),
                        agent_data("reports-bot", role=REPORTS_ROLE),
                        agent_data("suspended-bot", status="suspended"),
                    ]
                )
            )
        ),
    )
    assert json.loads(json.dumps(first)) == first
    assert plan_hash(first) == plan_hash(second)


def test_the_report_separates_what_the_gateway_enforces_from_pre_check_only_conditions():
    report = {entry["rule"]: entry for entry in shop_plan()["report"]}
    support = report["support-reads-orders"]
    assert any("aws:SourceIp" in line for line in support["gateway"])
    assert any("hours" in line for line in support["pre_check_only"])
    assert any("fields" in line for line in support["pre_check_only"])
    assert any("limits max_depth" in line for line in support["pre_check_only"])
    assert any("require_approval" in line for line in report["refunds-need-a-human"]["pre_check_only"])
    assert any("explicit Deny" in line for line in report["no-ai-deletes"]["gateway"])


def test_a_deny_at_certain_hours_is_left_to_the_pre_check():
    document = policy_document(
        rules=[
            {
                "id": "r",
                "effect": "allow",
                "subjects": {"agents": ["reports-bot"]},
                "operations": ["query.*"],
            },
            {
                "id": "nights",
                "effect": "deny",
                "subjects": {"agents": ["reports-bot"]},
                "operations": ["query.customer"],
                "when": {"hours": {"from": "22:00", "to": "06:00"}},
            },
        ]
    )
    plan = shop_plan(document)
    assert not [
        s
        for s in plan["api"]["policy"]["Statement"]
        if s["Sid"].startswith("GqlgovDeny") and s["Sid"] != "GqlgovDenyUnlisted"
    ]
    nights = next(e for e in plan["report"] if e["rule"] == "nights")
    assert nights["gateway"] == [] and any("deny itself" in line for line in nights["pre_check_only"])


def test_api_key_only_targets_have_no_resource_policy_and_unauthenticated_methods():
    plan = shop_plan(auth_mode="api_key")
    assert plan["api"]["policy"] is None
    assert plan["method"]["authorizationType"] == "NONE" and plan["method"]["apiKeyRequired"] is True


def test_a_valid_plan_passes_the_limit_checks():
    assert validate_plan(shop_plan()) == []


def test_more_than_three_hundred_resources_fail_with_what_to_do():
    operations = [f"query.field{i}" for i in range(299)]
    try:
        check_plan(shop_plan(operations=operations))
    except PlanLimitError as exc:
        assert exc.code == "PLAN_OVER_LIMITS"
        assert "301 resources" in exc.message and "at most 298 operations" in exc.message
    else:
        raise AssertionError("expected PlanLimitError")


def test_an_oversized_resource_policy_fails_naming_the_statements_to_merge():
    operations = [f"query.report{i:03d}" for i in range(120)]
    agents = [agent_data(f"bot-{i}", role=f"arn:aws:iam::123456789012:role/bot-{i}") for i in range(12)]
    rules = [
        {
            "id": f"r{i}",
            "effect": "allow",
            "subjects": {"agents": [f"bot-{i}"]},
            "operations": [f"query.report{j:03d}" for j in range(i, 120, 2)],
        }
        for i in range(12)
    ]
    plan = build_plan(
        document={"rules": rules},
        operations=operations,
        agents=agents,
        target=target_data(),
        schema_name="shop",
        schema_version=1,
        policy_version=1,
    )
    violations = validate_plan(plan)
    assert [v.limit for v in violations] == ["policy_size"]
    message = violations[0].message
    assert f"API Gateway allows {MAX_POLICY_CHARS}" in message
    assert "GqlgovAllow" in message and "subjects.groups" in message


def test_bad_path_parts_stage_names_and_usage_plan_values_are_refused():
    plan = shop_plan(operations=["query.has space"], stage_name="prod stage")
    plan["usage_plans"][0]["quota"] = {"limit": 5, "period": "YEAR"}
    plan["usage_plans"][0]["method_throttles"] = {"graphql/query.x": {"rateLimit": 1, "burstLimit": 1}}
    limits = {v.limit for v in validate_plan(plan)}
    assert {"path_part", "stage_name", "usage_plan_quota", "usage_plan_method_key"} <= limits


def test_the_plan_and_the_engine_agree_on_which_rules_cover_which_agents_and_operations():
    document = policy_document()
    policy = compile_policy(document)
    active = [agent for agent in shop_agents() if agent["status"] == "active"]
    for entry in shop_plan(document)["report"]:
        rule = policy.rules_by_id[entry["rule"]]
        assert entry["operations"] == sorted(
            op for op in SHOP_OPERATIONS if rule.index in policy.rules_for_operation(op)
        )
        assert entry["agents"] == sorted(
            agent["name"]
            for agent in active
            if rule in policy.candidate_rules(agent["name"], agent["kind"], agent["groups"])
        )
