"""Each former bypass of the export, closed, read back from a real moto server over HTTP: the
resource policy API Gateway stores is evaluated for the agent's role (tests/gateway/policy_eval),
the authorizer and the Lambda permissions are read back with boto3."""

import json

import pytest

from policies.gateway.applier import apply_plan, drift
from tests.gateway.aws import assert_authorizer_on_every_method, recorded_client
from tests.gateway.factories import (
    AUDIT_ROLE,
    AUTHORIZER_ARN,
    LAMBDA_ARN,
    REPORTS_ROLE,
    SUPPORT_ROLE,
    lambda_client,
    make_function,
    make_lambda_role,
    policy_document,
    shop_plan,
    verifier_zip,
)
from tests.gateway.policy_eval import allows_covering, evaluate, route

pytestmark = pytest.mark.slow


def live_policy(client, plan):
    result = apply_plan(client, plan, lambda_client=lambda_client(client.meta.endpoint_url))
    return client.get_rest_api(restApiId=result.rest_api_id)["policy"], result


@pytest.fixture
def gateway(moto_url):
    """An API Gateway client on moto, with the shop's backend function in place."""
    make_function(moto_url)
    client, _ = recorded_client(moto_url)
    return client


@pytest.mark.parametrize("role", [SUPPORT_ROLE, REPORTS_ROLE])
def test_an_agent_denied_delete_order_gets_no_allow_covering_graphql_in_advisory_mode(gateway, role):
    policy, _ = live_policy(gateway, shop_plan(enforcement="none"))
    for path in ("/graphql", "/graphql/mutation.deleteOrder"):
        assert allows_covering(policy, principal=role, resource=route(path)) == []
        assert evaluate(policy, principal=role, resource=route(path)) == "Deny"
        # Not from any address either.
        assert evaluate(policy, principal=role, resource=route(path), source_ip="10.1.2.3") == "Deny"


def test_approval_hours_and_expression_rules_grant_nothing_in_advisory_mode(gateway):
    rules = [
        {"id": "reads", "effect": "allow", "subjects": {"agents": ["support-bot"]}, "operations": ["query.orders"]},
        {
            "id": "refunds",
            "effect": "require_approval",
            "subjects": {"agents": ["support-bot"]},
            "operations": ["mutation.refundOrder"],
        },
        {
            "id": "office-hours",
            "effect": "allow",
            "subjects": {"agents": ["support-bot"]},
            "operations": ["query.order"],
            "when": {"hours": {"from": "08:00", "to": "18:00"}},
        },
        {
            "id": "own-customers",
            "effect": "allow",
            "subjects": {"agents": ["support-bot"]},
            "operations": ["query.customer"],
            "when": {"expression": "args.id == agent.name"},
        },
        {
            "id": "by-customer",
            "effect": "allow",
            "subjects": {"agents": ["support-bot"]},
            "operations": ["query.ordersByCustomer"],
        },
        {
            "id": "not-at-night",
            "effect": "deny",
            "subjects": {"agents": ["support-bot"]},
            "operations": ["query.ordersByCustomer"],
            "when": {"hours": {"from": "22:00", "to": "06:00"}},
        },
    ]
    refused = ["mutation.refundOrder", "query.order", "query.customer", "query.ordersByCustomer"]
    policy, _ = live_policy(gateway, shop_plan(policy_document(rules=rules), enforcement="none"))
    assert evaluate(policy, principal=SUPPORT_ROLE, resource=route("/graphql/query.orders")) == "Allow"
    for operation in refused:
        assert allows_covering(policy, principal=SUPPORT_ROLE, resource=route(f"/graphql/{operation}")) == []
    # With the decision token verified (backend mode), the same rules grant: the token carries
    # the pre-check's answer for the hour, the expression and the approval.
    policy, _ = live_policy(gateway, shop_plan(policy_document(rules=rules), policy_version=2))
    for operation in refused:
        assert evaluate(policy, principal=SUPPORT_ROLE, resource=route(f"/graphql/{operation}")) == "Allow"


def test_deny_and_source_ip_statements_cover_graphql_as_well_as_the_operation_routes(gateway):
    document = policy_document()
    document["rules"].append(
        {
            "id": "no-refunds-from-the-guest-network",
            "effect": "deny",
            "subjects": {"agents": ["reports-bot"]},
            "operations": ["query.customer"],
            "when": {"source_ips": ["192.0.2.0/24"]},
        }
    )
    policy, _ = live_policy(gateway, shop_plan(document))
    statements = json.loads(policy)["Statement"]
    denies = [s for s in statements if s["Effect"] == "Deny" and s["Sid"] != "GqlgovDenyUnlisted"]
    assert len(denies) == 2
    assert all("execute-api:/prod/POST/graphql" in s["Resource"] for s in denies)
    guest, office = "192.0.2.10", "198.51.100.7"
    for path in ("/graphql", "/graphql/query.customer"):
        assert evaluate(policy, principal=REPORTS_ROLE, resource=route(path), source_ip=guest) == "Deny"
    assert evaluate(policy, principal=REPORTS_ROLE, resource=route("/graphql/query.customer"), source_ip=office) == (
        "Allow"
    )


def test_graphql_is_allowed_only_to_an_agent_admitted_for_every_operation_without_conditions(gateway):
    document = policy_document(
        rules=[
            {"id": "all", "effect": "allow", "subjects": {"agents": ["reports-bot"]}, "operations": ["*"]},
            {"id": "reads", "effect": "allow", "subjects": {"agents": ["support-bot"]}, "operations": ["query.*"]},
        ]
    )
    for mode in ("none", "backend"):
        policy, _ = live_policy(gateway, shop_plan(document, enforcement=mode))
        assert evaluate(policy, principal=REPORTS_ROLE, resource=route("/graphql")) == "Allow"
        assert evaluate(policy, principal=SUPPORT_ROLE, resource=route("/graphql")) == "Neither"
        assert evaluate(policy, principal=SUPPORT_ROLE, resource=route("/graphql/query.order")) == "Allow"
        assert evaluate(policy, principal=AUDIT_ROLE, resource=route("/graphql")) == "Deny"  # not an agent


def test_an_authorizer_given_by_arn_is_on_every_method_and_may_invoke_only_from_this_api(moto_url, gateway):
    authorizer_arn = make_function(moto_url, AUTHORIZER_ARN)
    functions = lambda_client(moto_url)
    plan = shop_plan(enforcement="authorizer", authorizer_arn=authorizer_arn)
    result = apply_plan(gateway, plan, lambda_client=functions)
    api_id = result.rest_api_id
    [authorizer] = gateway.get_authorizers(restApiId=api_id)["items"]
    assert authorizer["authorizerUri"].endswith(f"/functions/{authorizer_arn}/invocations")
    assert_authorizer_on_every_method(gateway, api_id, plan)
    assert "policy" not in gateway.get_rest_api(restApiId=api_id)  # no principal statements
    source_arn = f"arn:aws:execute-api:us-east-1:123456789012:{api_id}/*"
    for function in (LAMBDA_ARN, authorizer_arn):
        [statement] = json.loads(functions.get_policy(FunctionName=function)["Policy"])["Statement"]
        assert statement["Principal"] == {"Service": "apigateway.amazonaws.com"}
        assert statement["Action"] == "lambda:InvokeFunction"
        assert statement["Condition"] == {"ArnLike": {"AWS:SourceArn": source_arn}}
    assert drift(gateway, plan, lambda_client=functions) == []


def test_leaving_authorizer_mode_puts_aws_iam_back_and_removes_the_authorizer(moto_url, gateway):
    functions = lambda_client(moto_url)
    plan = shop_plan(enforcement="authorizer", authorizer_arn=make_function(moto_url, AUTHORIZER_ARN))
    api_id = apply_plan(gateway, plan, lambda_client=functions).rest_api_id
    backend = shop_plan(policy_version=2)
    apply_plan(gateway, backend, lambda_client=functions)
    assert gateway.get_authorizers(restApiId=api_id)["items"] == []
    resources = gateway.get_resources(restApiId=api_id, embed=["methods"], limit=500)["items"]
    assert {r["resourceMethods"]["POST"]["authorizationType"] for r in resources if r["path"] != "/"} == {"AWS_IAM"}
    assert json.loads(gateway.get_rest_api(restApiId=api_id)["policy"])["Statement"]
    assert drift(gateway, backend, lambda_client=functions) == []


def test_the_deployed_authorizer_function_is_diffed_and_brought_back_in_line(moto_url, gateway, tmp_path):
    functions, recorder = recorded_client(moto_url, "lambda")
    plan = shop_plan(
        enforcement="authorizer", authorizer_role_arn=make_lambda_role(moto_url), verifier=verifier_zip(tmp_path)
    )
    apply_plan(gateway, plan, lambda_client=functions)
    functions.update_function_configuration(
        FunctionName="gqlgov-decision-shop-prod", Environment={"Variables": {"GQLGOV_ISSUER": "https://evil.example"}}
    )
    assert [d["action"] for d in drift(gateway, plan, lambda_client=functions)] == ["update_function_configuration"]
    apply_plan(gateway, plan, lambda_client=functions)
    config = functions.get_function(FunctionName="gqlgov-decision-shop-prod")["Configuration"]
    assert config["Environment"]["Variables"]["GQLGOV_ISSUER"] == "https://gqlgov.example.com"
    recorder.calls.clear()
    assert drift(gateway, plan, lambda_client=functions) == [] and recorder.mutating == []


def test_a_function_of_that_name_gqlgov_did_not_create_is_left_alone(moto_url, gateway, tmp_path):
    from gqlgov.errors import ApiError

    make_function(moto_url, "arn:aws:lambda:us-east-1:123456789012:function:gqlgov-decision-shop-prod")
    plan = shop_plan(
        enforcement="authorizer", authorizer_role_arn=make_lambda_role(moto_url), verifier=verifier_zip(tmp_path)
    )
    with pytest.raises(ApiError, match="did not create") as refused:
        apply_plan(gateway, plan, lambda_client=lambda_client(moto_url))
    assert refused.value.code == "NOT_OWNED"
