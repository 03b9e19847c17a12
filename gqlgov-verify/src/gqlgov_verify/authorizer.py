"""An API Gateway (REST API) Lambda REQUEST authorizer for the API gqlgov exports: `handler`.

Configure it with `GQLGOV_JWKS_URL` (and `GQLGOV_ISSUER`, defaulting to the JWKS URL's origin), its
identity source `method.request.header.X-Gqlgov-Decision`, and result caching off (a decision is
made for one request). It cannot see the body, so it checks what the token says without it:
the signature, the lifetime, the caller (`requestContext.identity.userArn` against `iam_role_arn`,
when the request carries one) and that the route's operation is among the decided root fields.
The whole-document route `/graphql` admits any valid token: binding the body is the backend's
part (`lambda_guard`).

Answers, as API Gateway documents for Lambda authorizers:
- no token, or one that is not a decision token at all (`TOKEN_MALFORMED`): the error
  `Unauthorized`, which API Gateway turns into 401 (gateway response `UNAUTHORIZED`); there is no
  credential to judge. (API Gateway itself answers 401 when the header is absent.)
- a decision token that does not admit this request (expired, bad signature, unknown key, another
  caller, another operation): a Deny policy, 403 (gateway response `ACCESS_DENIED`), whose `context`
  carries `code` and `message` for the response template (`$context.authorizer.code`).
- otherwise an Allow policy on the method, `principalId` the agent, `context` with `decision_id`
  and `agent` (`$context.authorizer.decision_id` in access logs).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gqlgov_verify.caller import acting_agent, on_behalf_of
from gqlgov_verify.config import Verifier
from gqlgov_verify.errors import OPERATION_MISMATCH, TOKEN_MALFORMED, DecisionRejected
from gqlgov_verify.request import event_tokens

ROUTE = "/graphql"
OPERATION_TYPES = ("query", "mutation", "subscription")
ANONYMOUS = "anonymous"  # the principalId of a Deny for a token whose subject cannot be trusted


class Unauthorized(Exception):
    """Raised as `Unauthorized("Unauthorized")`: the exact error message API Gateway maps to 401."""


def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """The Lambda entry point (`gqlgov_verify.authorizer.handler`), configured by the environment."""
    return authorize(event, Verifier.build())


def authorize(event: Mapping[str, Any], verifier: Verifier) -> dict[str, Any]:
    """The authorizer's answer for a REQUEST authorizer event; raises `Unauthorized` without a token."""
    tokens = {token.strip() for token in event_tokens(event) if token.strip()}
    if len(tokens) != 1:
        raise Unauthorized("Unauthorized")
    identity = (event.get("requestContext") or {}).get("identity") or {}
    try:
        claims = verifier.verify_token(tokens.pop(), agent=identity.get("userArn") or None)
    except DecisionRejected as rejection:
        if rejection.code == TOKEN_MALFORMED:
            raise Unauthorized("Unauthorized") from None
        return _deny(ANONYMOUS, event, rejection)
    agent = acting_agent(claims) or ANONYMOUS
    try:
        _admit_route(event, claims["operation"])
    except DecisionRejected as rejection:
        return _deny(agent, event, rejection)
    context = {"decision_id": claims["decision_id"], "agent": agent}
    person = on_behalf_of(claims)
    if person is not None:
        context["on_behalf_of"] = person
    return policy(agent, "Allow", event["methodArn"], context)


def policy(principal_id: str, effect: str, method_arn: str, context: Mapping[str, str]) -> dict[str, Any]:
    """The output API Gateway expects of a Lambda authorizer."""
    statement = {"Action": "execute-api:Invoke", "Effect": effect, "Resource": method_arn}
    return {
        "principalId": principal_id,
        "policyDocument": {"Version": "2012-10-17", "Statement": [statement]},
        "context": dict(context),
    }


def route_operation(event: Mapping[str, Any]) -> str | None:
    """The operation the route names (`query.orders`), or None for the whole-document route."""
    resource = event.get("resource") or (event.get("requestContext") or {}).get("resourcePath") or ""
    if resource == ROUTE:
        return None
    if not resource.startswith(ROUTE + "/"):
        raise DecisionRejected(OPERATION_MISMATCH, f"{resource or 'this route'} is no GraphQL route")
    name: str = resource[len(ROUTE) + 1 :]
    if name.startswith("{") and name.endswith("}"):  # a `/graphql/{operation}` resource: the value is a parameter
        name = str((event.get("pathParameters") or {}).get(name.strip("{}+"), ""))
    return name


def _admit_route(event: Mapping[str, Any], operation: Mapping[str, Any]) -> None:
    if event.get("httpMethod", "POST") != "POST":
        raise DecisionRejected(OPERATION_MISMATCH, "GraphQL requests are POSTed")
    name = route_operation(event)
    if name is None:
        return
    kind, _, rest = name.partition(".")
    root_field = rest.split(".")[0]
    if kind not in OPERATION_TYPES or not root_field or "*" in name:
        raise DecisionRejected(OPERATION_MISMATCH, f"{name!r} does not name one operation")
    if kind != operation["type"] or root_field not in operation["root_fields"]:
        raise DecisionRejected(OPERATION_MISMATCH, f"the decision does not cover {name}")


def _deny(principal_id: str, event: Mapping[str, Any], rejection: DecisionRejected) -> dict[str, Any]:
    context = {"code": rejection.code, "message": rejection.message}
    return policy(principal_id, "Deny", event["methodArn"], context)
