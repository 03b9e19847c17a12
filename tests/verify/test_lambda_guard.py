"""lambda_guard on API Gateway's REST API proxy integration events: the handler runs only for the
document, variables and caller a decision admits; otherwise 403 in gqlgov's error shape (no Django)."""

from __future__ import annotations

import json

import boto3
import pytest

from gqlgov_verify import (
    AGENT_MISMATCH,
    DOCUMENT_MISMATCH,
    KEY_UNKNOWN,
    OPERATION_MISMATCH,
    SIGNATURE_INVALID,
    TOKEN_EXPIRED,
    TOKEN_MALFORMED,
    TOKEN_REPLAYED,
    VARIABLES_MISMATCH,
    ConfigurationError,
    InMemoryReplayStore,
    lambda_guard,
)
from tests.verify.factories import (
    DELETE_MUTATION,
    REPORTS_SESSION,
    graphql_body,
    jwks,
    make_key,
    make_token,
    proxy_event,
)
from tests.verify.servers import JwksServer


class Backend:
    """The GraphQL function behind the guard: records what reached it."""

    def __init__(self) -> None:
        self.events: list[dict] = []

    def __call__(self, event, context):
        self.events.append(event)
        return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": '{"data": {}}'}


@pytest.fixture
def backend() -> Backend:
    return Backend()


def refusal(response: dict) -> tuple[int, str]:
    assert response["headers"] == {"Content-Type": "application/json"}
    body = json.loads(response["body"])
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    return response["statusCode"], body["error"]["code"]


def test_the_handler_runs_for_the_document_the_decision_admits_with_its_claims(key, backend):
    guarded = lambda_guard(jwks=jwks(key))(backend)
    token = make_token(key)

    response = guarded(proxy_event(graphql_body(), token), None)

    assert response["statusCode"] == 200
    assert backend.events[0]["gqlgov_decision"]["sub"] == "support-bot"
    assert backend.events[0]["body"] == graphql_body()


@pytest.mark.parametrize("header_name", ["x-gqlgov-decision", "X-GQLGOV-DECISION", "X-Gqlgov-Decision"])
def test_the_header_is_found_whatever_its_case(key, backend, header_name):
    guarded = lambda_guard(jwks=jwks(key))(backend)

    assert guarded(proxy_event(graphql_body(), make_token(key), header_name=header_name), None)["statusCode"] == 200


def test_a_token_only_in_multi_value_headers_is_found(key, backend):
    event = proxy_event(graphql_body(), make_token(key))
    del event["headers"]["X-Gqlgov-Decision"]

    assert lambda_guard(jwks=jwks(key))(backend)(event, None)["statusCode"] == 200


def test_two_different_tokens_are_refused_as_malformed(key, backend):
    event = proxy_event(graphql_body(), make_token(key))
    event["multiValueHeaders"]["X-Gqlgov-Decision"].append(make_token(key))

    assert refusal(lambda_guard(jwks=jwks(key))(backend)(event, None)) == (403, TOKEN_MALFORMED)
    assert backend.events == []


def test_a_base64_encoded_body_is_decoded_before_it_is_bound(key, backend):
    event = proxy_event(graphql_body(), make_token(key), base64_body=True)

    assert lambda_guard(jwks=jwks(key))(backend)(event, None)["statusCode"] == 200


def test_a_session_of_the_agents_role_under_a_role_path_is_the_agent(key, backend):
    token = make_token(key, iam_role_arn="arn:aws:iam::123456789012:role/agents/support/support-bot")

    assert lambda_guard(jwks=jwks(key))(backend)(proxy_event(graphql_body(), token), None)["statusCode"] == 200


@pytest.mark.parametrize(
    ("make_event", "code"),
    [
        (lambda key: proxy_event(graphql_body(), None), TOKEN_MALFORMED),
        (lambda key: proxy_event(graphql_body(), "garbage"), TOKEN_MALFORMED),
        (lambda key: proxy_event(graphql_body(), make_token(make_key("other"))), KEY_UNKNOWN),
        (lambda key: proxy_event(graphql_body(), make_token(make_key(key.kid))), SIGNATURE_INVALID),
        (lambda key: proxy_event(graphql_body(), make_token(key, issued_at=0)), TOKEN_EXPIRED),
        (lambda key: proxy_event(graphql_body(DELETE_MUTATION, None, None), make_token(key)), DOCUMENT_MISMATCH),
        (lambda key: proxy_event(graphql_body(variables={"first": 1000}), make_token(key)), VARIABLES_MISMATCH),
        (lambda key: proxy_event(graphql_body(operation_name="Other"), make_token(key)), OPERATION_MISMATCH),
        (lambda key: proxy_event(graphql_body(), make_token(key), user_arn=REPORTS_SESSION), AGENT_MISMATCH),
    ],
    ids=[
        "no token",
        "garbage",
        "unknown key",
        "forged",
        "expired",
        "other document",
        "other variables",
        "other operation name",
        "other caller",
    ],
)
def test_a_refused_decision_answers_403_without_calling_the_handler(key, backend, make_event, code):
    response = lambda_guard(jwks=jwks(key))(backend)(make_event(key), None)

    assert refusal(response) == (403, code)
    assert backend.events == []


def test_a_replayed_token_is_refused_with_single_use_on(key, backend):
    guarded = lambda_guard(jwks=jwks(key), replay_store=InMemoryReplayStore())(backend)
    event = proxy_event(graphql_body(), make_token(key))

    assert guarded(event, None)["statusCode"] == 200
    assert refusal(guarded(event, None)) == (403, TOKEN_REPLAYED)
    assert len(backend.events) == 1


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ("not json", 400, "MALFORMED_REQUEST"),
        ("[]", 400, "MALFORMED_REQUEST"),
        ('{"query": 1}', 400, "MALFORMED_REQUEST"),
        ('{"query": "{ orders { id } }", "variables": [1]}', 400, "MALFORMED_REQUEST"),
        ('{"query": "{ a }", "query": "{ b }"}', 400, "MALFORMED_REQUEST"),
        ('{"query": "{ a }", "variables": {"x": 1, "x": 2}}', 400, "MALFORMED_REQUEST"),
        (None, 400, "MALFORMED_REQUEST"),
        ('{"query": "' + "x" * (1024 * 1024) + '"}', 413, "PAYLOAD_TOO_LARGE"),
    ],
)
def test_a_body_that_is_no_graphql_request_is_refused_before_the_handler(key, backend, body, status, code):
    response = lambda_guard(jwks=jwks(key))(backend)(proxy_event(body, make_token(key)), None)

    assert refusal(response) == (status, code)
    assert backend.events == []


def test_a_body_whose_base64_is_broken_is_malformed(key, backend):
    event = proxy_event(graphql_body(), make_token(key))
    event.update(body="***", isBase64Encoded=True)

    assert refusal(lambda_guard(jwks=jwks(key))(backend)(event, None)) == (400, "MALFORMED_REQUEST")


def test_only_post_reaches_the_handler(key, backend):
    event = proxy_event(graphql_body(), make_token(key))
    event["httpMethod"] = "GET"

    assert refusal(lambda_guard(jwks=jwks(key))(backend)(event, None)) == (405, "METHOD_NOT_ALLOWED")


def test_configured_by_the_environment_it_fetches_gqlgovs_jwks(key, backend, monkeypatch):
    with JwksServer(jwks(key)) as server:
        monkeypatch.setenv("GQLGOV_JWKS_URL", server.url)
        monkeypatch.delenv("GQLGOV_ISSUER", raising=False)
        monkeypatch.delenv("GQLGOV_REPLAY_TABLE", raising=False)
        guarded = lambda_guard(backend)
        own_token = make_token(key, iss=server.origin)

        assert guarded(proxy_event(graphql_body(), own_token), None)["statusCode"] == 200
        # The issuer defaults to the JWKS URL's gqlgov: another gqlgov's token is refused.
        assert refusal(guarded(proxy_event(graphql_body(), make_token(key)), None)) == (403, "ISSUER_MISMATCH")


def test_without_keys_it_fails_loudly_rather_than_admitting(backend, monkeypatch):
    monkeypatch.delenv("GQLGOV_JWKS_URL", raising=False)
    guarded = lambda_guard(backend)

    with pytest.raises(ConfigurationError):
        guarded(proxy_event(graphql_body(), "token"), None)


@pytest.mark.slow
def test_single_use_from_the_environment_uses_the_dynamodb_table(key, backend, monkeypatch, moto_url):
    boto3.client("dynamodb", endpoint_url=moto_url).create_table(
        TableName="gqlgov-used-decisions",
        KeySchema=[{"AttributeName": "jti", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "jti", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", moto_url)  # what boto3 reads; a Lambda would use AWS
    monkeypatch.setenv("GQLGOV_REPLAY_TABLE", "gqlgov-used-decisions")
    guarded = lambda_guard(jwks=jwks(key))(backend)
    event = proxy_event(graphql_body(), make_token(key))

    assert guarded(event, None)["statusCode"] == 200
    assert refusal(guarded(event, None)) == (403, TOKEN_REPLAYED)


def test_an_event_whose_headers_are_null_is_refused_not_crashed(key, backend):
    # API Gateway sends `"headers": null` for a request without headers.
    event = proxy_event(graphql_body(), None)
    event.update(headers=None, multiValueHeaders=None)

    assert refusal(lambda_guard(jwks=jwks(key))(backend)(event, None)) == (403, TOKEN_MALFORMED)
