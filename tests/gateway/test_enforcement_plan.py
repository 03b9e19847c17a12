"""The plan per enforcement mode: pure data in, desired state and its report out (no AWS)."""

import pytest

from policies.gateway.limits import validate_plan
from tests.gateway.factories import (
    AUTHORIZER_ARN,
    LAMBDA_ROLE,
    REPORTS_ROLE,
    SHOP_OPERATIONS,
    SUPPORT_ROLE,
    agent_data,
    policy_document,
    shop_plan,
    verifier,
)
from tests.gateway.policy_eval import evaluate, route


def authorizer_plan(**target):
    return shop_plan(enforcement="authorizer", authorizer_role_arn=LAMBDA_ROLE, verifier=verifier(), **target)


def test_new_plans_verify_at_the_backend_and_say_the_backend_must_run_the_guard():
    plan = shop_plan()
    assert plan["target"]["enforcement"] == "backend" and plan["enforcement"]["mode"] == "backend"
    assert plan["method"]["authorizationType"] == "AWS_IAM" and plan["authorizer"] is None
    requirement = plan["enforcement"]["backend_requirement"]
    assert "gqlgov_verify.lambda_guard" in requirement and "X-Gqlgov-Decision" in requirement
    assert all("gqlgov_verify.lambda_guard" in entry["binding"] for entry in plan["report"])


def test_authorizer_plans_put_the_decision_authorizer_on_every_method_instead_of_aws_iam():
    plan = authorizer_plan()
    assert plan["method"]["authorizationType"] == "CUSTOM" and plan["method"]["authorizer"] == "gqlgov-decision"
    assert plan["method"]["apiKeyRequired"] is True  # API keys still identify the agents (auth both)
    assert plan["authorizer"] == {
        "name": "gqlgov-decision",
        "type": "REQUEST",
        "identitySource": "method.request.header.X-Gqlgov-Decision",
        "authorizerResultTtlInSeconds": 0,
        "function_arn": "",
        "function_name": "gqlgov-decision-shop-prod",
    }
    # A CUSTOM method has no IAM caller: principal statements could never match it.
    assert plan["api"]["policy"] is None
    function = plan["lambda"]["function"]
    assert (function["name"], function["runtime"], function["handler"], function["role"]) == (
        "gqlgov-decision-shop-prod",
        "python3.11",
        "gqlgov_verify.authorizer.handler",
        LAMBDA_ROLE,
    )
    assert function["environment"] == {
        "GQLGOV_JWKS_URL": "https://gqlgov.example.com/api/v1/.well-known/jwks.json",
        "GQLGOV_ISSUER": "https://gqlgov.example.com",
    }
    assert any("REQUEST authorizer gqlgov-decision" in line for line in plan["report"][0]["gateway"])
    assert validate_plan(plan) == []


def test_an_authorizer_given_by_arn_is_used_as_it_is_and_nothing_is_deployed():
    plan = shop_plan(enforcement="authorizer", authorizer_arn=AUTHORIZER_ARN)
    assert plan["authorizer"]["function_arn"] == AUTHORIZER_ARN and plan["lambda"]["function"] is None
    assert [p["function"] for p in plan["lambda"]["permissions"]] == [
        "arn:aws:lambda:us-east-1:123456789012:function:shop-graphql",
        AUTHORIZER_ARN,
    ]


def test_authorizer_mode_without_an_arn_needs_the_verifier_package():
    with pytest.raises(ValueError, match="verifier package"):
        shop_plan(enforcement="authorizer", authorizer_role_arn=LAMBDA_ROLE)


def test_the_backend_and_the_authorizer_may_be_invoked_by_this_api_only():
    permissions = {p["role"]: p for p in authorizer_plan()["lambda"]["permissions"]}
    assert set(permissions) == {"backend", "authorizer"}
    for permission in permissions.values():
        assert permission["action"] == "lambda:InvokeFunction"
        assert permission["principal"] == "apigateway.amazonaws.com"
        assert permission["source_arn"] == "arn:aws:execute-api:us-east-1:123456789012:{rest_api_id}/*"
    assert permissions["authorizer"]["function"] == "gqlgov-decision-shop-prod"
    # An HTTP backend needs no permission; without an account id the function's is taken at apply time.
    plan = shop_plan(lambda_arn="", http_url="https://backend.internal/graphql", account_id="")
    assert plan["lambda"]["permissions"] == []
    plan = shop_plan(account_id="")
    assert (
        plan["lambda"]["permissions"][0]["source_arn"] == "arn:aws:execute-api:us-east-1:123456789012:{rest_api_id}/*"
    )
    plan = authorizer_plan(lambda_arn="", http_url="https://backend.internal/graphql", account_id="")
    assert (
        plan["lambda"]["permissions"][0]["source_arn"] == "arn:aws:execute-api:us-east-1:{account_id}:{rest_api_id}/*"
    )


def test_an_advisory_report_says_which_rules_grant_nothing_at_the_gateway():
    report = {entry["rule"]: entry for entry in shop_plan(enforcement="none")["report"]}
    support, refunds = report["support-reads-orders"], report["refunds-need-a-human"]
    assert any("no Allow" in line for line in support["gateway"])
    assert any(line.startswith("when.hours") and "grants none" in line for line in support["pre_check_only"])
    assert any(line.startswith("require_approval") and "grants none" in line for line in refunds["pre_check_only"])
    assert all(entry["binding"].startswith("none: advisory") for entry in report.values())
    assert "any document may be posted" in shop_plan(enforcement="none")["enforcement"]["summary"]


def test_the_whole_document_route_goes_to_agents_admitted_for_every_schema_operation_without_conditions():
    everything = {"id": "all", "effect": "allow", "subjects": {"agents": ["reports-bot"]}, "operations": ["*"]}
    reads = {"id": "reads", "effect": "allow", "subjects": {"agents": ["support-bot"]}, "operations": ["query.*"]}
    plan = shop_plan(policy_document(rules=[everything, reads]), enforcement="none")
    assert plan["enforcement"]["whole_document_route"] == ["reports-bot"]
    policy = plan["api"]["policy"]
    assert evaluate(policy, principal=REPORTS_ROLE, resource=route("/graphql")) == "Allow"
    assert evaluate(policy, principal=SUPPORT_ROLE, resource=route("/graphql")) == "Neither"
    assert evaluate(policy, principal=SUPPORT_ROLE, resource=route("/graphql/query.orders")) == "Allow"

    # A schema operation no rule governs may be in a whole document: nobody gets /graphql.
    listed = {**everything, "operations": list(SHOP_OPERATIONS)}
    plan = shop_plan(policy_document(rules=[listed]), operations=[*SHOP_OPERATIONS, "query.new"])
    assert plan["enforcement"]["whole_document_route"] == []
    # Nor does an agent with an approval, a condition or a deny on some operation.
    for extra in (
        {
            "id": "x",
            "effect": "require_approval",
            "subjects": {"agents": ["reports-bot"]},
            "operations": ["query.order"],
        },
        {
            "id": "x",
            "effect": "deny",
            "subjects": {"agents": ["reports-bot"]},
            "operations": ["query.order"],
            "when": {"hours": {"from": "22:00", "to": "06:00"}},
        },
    ):
        plan = shop_plan(policy_document(rules=[everything, extra]))
        assert plan["enforcement"]["whole_document_route"] == [], extra
    conditional = {**everything, "when": {"source_ips": ["10.0.0.0/8"]}}
    assert shop_plan(policy_document(rules=[conditional]))["enforcement"]["whole_document_route"] == []


def test_a_deployed_authorizer_needs_a_role_and_a_name_lambda_accepts():
    plan = shop_plan(enforcement="authorizer", authorizer_role_arn="", verifier=verifier())
    assert [v.limit for v in validate_plan(plan)] == ["authorizer_role"]
    plan = authorizer_plan(name="shop-" + "x" * 60)
    assert [v.limit for v in validate_plan(plan)] == ["function_name"]


def test_agents_without_a_role_in_advisory_mode_get_no_statement():
    plan = shop_plan(agents=[agent_data("reports-bot")], enforcement="none")
    assert [s["Sid"] for s in plan["api"]["policy"]["Statement"]] == ["GqlgovDenyUnlisted"]
