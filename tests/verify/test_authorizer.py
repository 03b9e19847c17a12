"""The REQUEST authorizer on API Gateway's documented authorizer event: the IAM policy it returns
for each route and token, and `Unauthorized` when there is no decision token (no Django here)."""

from __future__ import annotations

import pytest

from gqlgov_verify import (
    AGENT_MISMATCH,
    KEY_UNKNOWN,
    OPERATION_MISMATCH,
    SIGNATURE_INVALID,
    TOKEN_EXPIRED,
    Verifier,
)
from gqlgov_verify.authorizer import Unauthorized, authorize, handler
from tests.verify.factories import (
    ACCOUNT,
    REPORTS_SESSION,
    SUPPORT_SESSION,
    authorizer_event,
    jwks,
    make_key,
    make_token,
)
from tests.verify.servers import JwksServer


def effect(answer: dict) -> str:
    (statement,) = answer["policyDocument"]["Statement"]
    assert answer["policyDocument"]["Version"] == "2012-10-17"
    assert statement["Action"] == "execute-api:Invoke"
    return statement["Effect"]


@pytest.fixture
def verifier(key) -> Verifier:
    return Verifier.build(jwks=jwks(key))


def test_a_route_among_the_tokens_root_fields_is_allowed_with_the_decision_in_the_context(key, verifier):
    token = make_token(key, decision_id="d-42")
    event = authorizer_event(token, resource="/graphql/query.orders")

    answer = authorize(event, verifier)

    assert effect(answer) == "Allow"
    assert answer["policyDocument"]["Statement"][0]["Resource"] == event["methodArn"]
    assert answer["principalId"] == "support-bot"
    assert answer["context"] == {"decision_id": "d-42", "agent": "support-bot"}


def test_a_document_with_several_root_fields_admits_each_of_their_routes(key, verifier):
    token = make_token(key, root_fields=("orders", "customer"))

    assert effect(authorize(authorizer_event(token, resource="/graphql/query.customer"), verifier)) == "Allow"
    assert effect(authorize(authorizer_event(token, resource="/graphql/query.orders"), verifier)) == "Allow"


def test_the_whole_document_route_admits_a_valid_token_leaving_the_body_to_the_backend(key, verifier):
    assert effect(authorize(authorizer_event(make_token(key), resource="/graphql"), verifier)) == "Allow"


@pytest.mark.parametrize(
    "resource",
    [
        "/graphql/query.customer",  # another root field
        "/graphql/mutation.orders",  # another operation type
        "/graphql/mutation.deleteOrder",
        "/graphql/query.*",  # a glob names no operation
        "/graphql/orders",
        "/graphql/",
        "/admin",
    ],
)
def test_a_route_the_decision_does_not_cover_is_denied(key, verifier, resource):
    answer = authorize(authorizer_event(make_token(key), resource=resource), verifier)

    assert effect(answer) == "Deny"
    assert answer["principalId"] == "support-bot"
    assert answer["context"]["code"] == OPERATION_MISMATCH


def test_a_dotted_operation_name_is_judged_by_its_root_field(key, verifier):
    event = authorizer_event(make_token(key), resource="/graphql/query.orders.items")

    assert effect(authorize(event, verifier)) == "Allow"


def test_a_route_with_an_operation_path_parameter_is_judged_by_its_value(key, verifier):
    event = authorizer_event(make_token(key), resource="/graphql/{operation}")
    event["pathParameters"] = {"operation": "mutation.deleteOrder"}
    assert effect(authorize(event, verifier)) == "Deny"

    event["pathParameters"] = {"operation": "query.orders"}
    assert effect(authorize(event, verifier)) == "Allow"


def test_another_method_than_post_is_denied(key, verifier):
    event = authorizer_event(make_token(key), http_method="GET")

    assert authorize(event, verifier)["context"]["code"] == OPERATION_MISMATCH


@pytest.mark.parametrize(
    ("make_token_for", "code"),
    [
        (lambda key: make_token(key, issued_at=0), TOKEN_EXPIRED),
        (lambda key: make_token(make_key("other")), KEY_UNKNOWN),
        (lambda key: make_token(make_key(key.kid)), SIGNATURE_INVALID),
    ],
    ids=["expired", "unknown key", "forged"],
)
def test_a_token_that_does_not_verify_gets_a_deny_naming_why(key, verifier, make_token_for, code):
    answer = authorize(authorizer_event(make_token_for(key)), verifier)

    assert effect(answer) == "Deny"
    assert answer["principalId"] == "anonymous"
    assert answer["context"]["code"] == code


def test_an_iam_caller_must_be_the_agents_role(key, verifier):
    token = make_token(key)

    assert effect(authorize(authorizer_event(token, user_arn=SUPPORT_SESSION), verifier)) == "Allow"
    answer = authorize(authorizer_event(token, user_arn=REPORTS_SESSION), verifier)
    assert effect(answer) == "Deny" and answer["context"]["code"] == AGENT_MISMATCH


@pytest.mark.parametrize("token", [None, "", "not-a-jws", "a.b.c"])
def test_without_a_decision_token_the_answer_is_unauthorized(key, verifier, token):
    with pytest.raises(Unauthorized) as raised:
        authorize(authorizer_event(token), verifier)

    assert str(raised.value) == "Unauthorized"  # the exact message API Gateway maps to 401


def test_two_different_tokens_are_unauthorized(key, verifier):
    event = authorizer_event(make_token(key))
    event["multiValueHeaders"]["X-Gqlgov-Decision"].append(make_token(key))

    with pytest.raises(Unauthorized):
        authorize(event, verifier)


def test_the_lambda_handler_is_configured_by_the_environment(key, monkeypatch):
    with JwksServer(jwks(key)) as server:
        monkeypatch.setenv("GQLGOV_JWKS_URL", server.url)
        monkeypatch.setenv("GQLGOV_ISSUER", server.origin)
        token = make_token(key, iss=server.origin)

        answer = handler(authorizer_event(token), None)
        foreign = handler(authorizer_event(make_token(key)), None)

    assert effect(answer) == "Allow"
    assert answer["policyDocument"]["Statement"][0]["Resource"].startswith(f"arn:aws:execute-api:us-east-1:{ACCOUNT}:")
    assert effect(foreign) == "Deny" and foreign["context"]["code"] == "ISSUER_MISMATCH"


def test_a_delegated_decision_names_the_acting_agent_as_principal_and_the_person_in_the_context(key, verifier):
    token = make_token(key, agent="alice", act={"sub": "support-bot"}, decision_id="d-43")

    answer = authorize(authorizer_event(token, resource="/graphql/query.orders"), verifier)

    assert effect(answer) == "Allow"
    assert answer["principalId"] == "support-bot"
    assert answer["context"] == {"decision_id": "d-43", "agent": "support-bot", "on_behalf_of": "alice"}
