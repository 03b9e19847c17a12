"""Typed factories for the verifier's tests: gqlgov's signing key, its JWKS, decision tokens, and
API Gateway's events in the formats its documentation gives.

No Django here or in any tests/verify module: the verifier is a package of its own.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from gqlgov_verify import document_sha256, variables_sha256

ISSUER = "https://gqlgov.example.com"
JWKS_URL = f"{ISSUER}/api/v1/.well-known/jwks.json"
ACCOUNT = "123456789012"
SUPPORT_ROLE = f"arn:aws:iam::{ACCOUNT}:role/support-bot"
SUPPORT_SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/support-bot/agent-session-1"
REPORTS_SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/reports-bot/agent-session-7"
METHOD_ARN = f"arn:aws:execute-api:us-east-1:{ACCOUNT}:abcdef123/prod/POST/graphql/query.orders"

ORDERS_QUERY = "query Orders($first: Int) { orders(first: $first) { id total } }"
ORDERS_VARIABLES: dict[str, Any] = {"first": 10}
DELETE_MUTATION = 'mutation DeleteOrder { deleteOrder(id: "o-1") }'


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: ec.EllipticCurvePrivateKey

    def public_jwk(self) -> dict[str, Any]:
        jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.private_key.public_key()))
        return {**jwk, "kid": self.kid, "use": "sig", "alg": "ES256"}


def make_key(kid: str | None = None) -> SigningKey:
    return SigningKey(kid or f"key-{uuid.uuid4().hex[:8]}", ec.generate_private_key(ec.SECP256R1()))


def jwks(*keys: SigningKey) -> dict[str, Any]:
    return {"keys": [key.public_jwk() for key in keys]}


def decision_claims(
    query: str = ORDERS_QUERY,
    variables: dict[str, Any] | None = ORDERS_VARIABLES,
    *,
    agent: str = "support-bot",
    iam_role_arn: str | None = SUPPORT_ROLE,
    operation_type: str = "query",
    operation_name: str | None = "Orders",
    root_fields: tuple[str, ...] = ("orders",),
    issued_at: float | None = None,
    ttl_s: float = 60,
    **overrides: Any,
) -> dict[str, Any]:
    """The claims gqlgov signs for an allowed check of `query` with `variables` (the contract)."""
    iat = int(time.time() if issued_at is None else issued_at)
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "sub": agent,
        "iat": iat,
        "exp": iat + int(ttl_s),
        "jti": uuid.uuid4().hex,
        "decision_id": str(uuid.uuid4()),
        "schema": "shop",
        "policy_version": 3,
        "operation": {"name": operation_name, "type": operation_type, "root_fields": list(root_fields)},
        "document_sha256": document_sha256(query),
        "variables_sha256": variables_sha256(variables),
    }
    if iam_role_arn is not None:
        claims["iam_role_arn"] = iam_role_arn
    return {**claims, **overrides}


def sign(claims: dict[str, Any], key: SigningKey, **headers: Any) -> str:
    return jwt.encode(claims, key.private_key, algorithm="ES256", headers={"kid": key.kid, **headers})


def make_token(
    key: SigningKey, query: str = ORDERS_QUERY, variables: dict[str, Any] | None = ORDERS_VARIABLES, **claims: Any
) -> str:
    """A decision token for `query` and `variables`, signed with `key`."""
    return sign(decision_claims(query, variables, **claims), key)


def graphql_body(
    query: str = ORDERS_QUERY,
    variables: dict[str, Any] | None = ORDERS_VARIABLES,
    operation_name: str | None = "Orders",
) -> str:
    return json.dumps({"query": query, "variables": variables, "operationName": operation_name})


def proxy_event(
    body: str | None,
    token: str | None,
    *,
    user_arn: str | None = SUPPORT_SESSION,
    header_name: str = "X-Gqlgov-Decision",
    base64_body: bool = False,
    resource: str = "/graphql",
) -> dict[str, Any]:
    """A REST API Lambda proxy integration event (API Gateway's documented input format)."""
    headers = {
        "Accept": "application/json",
        "Content-Type": "application/json",
        "Host": "abcdef123.execute-api.us-east-1.amazonaws.com",
        "User-Agent": "agent/1.0",
        "X-Amzn-Trace-Id": "Root=1-5f2330a4-6a0de1cd0e17c0508d386a64",
        "X-Forwarded-For": "203.0.113.203",
        "X-Forwarded-Port": "443",
        "X-Forwarded-Proto": "https",
    }
    if token is not None:
        headers[header_name] = token
    if base64_body and body is not None:
        body = base64.b64encode(body.encode()).decode()
    return {
        "resource": resource,
        "path": resource,
        "httpMethod": "POST",
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": "2gxmpl",
            "resourcePath": resource,
            "httpMethod": "POST",
            "extendedRequestId": "JJbxmHEtIAMFvkA=",
            "requestTime": "10/Mar/2020:00:03:59 +0000",
            "path": f"/prod{resource}",
            "accountId": ACCOUNT,
            "protocol": "HTTP/1.1",
            "stage": "prod",
            "domainPrefix": "abcdef123",
            "requestTimeEpoch": 1583798639428,
            "requestId": "77375676-xmpl-4b79-853a-f982474efe18",
            "identity": _identity(user_arn),
            "domainName": "abcdef123.execute-api.us-east-1.amazonaws.com",
            "apiId": "abcdef123",
        },
        "body": body,
        "isBase64Encoded": base64_body,
    }


def authorizer_event(
    token: str | None,
    *,
    resource: str = "/graphql/query.orders",
    user_arn: str | None = None,
    http_method: str = "POST",
) -> dict[str, Any]:
    """A REST API REQUEST authorizer event (API Gateway's documented input format)."""
    headers = {
        "X-AMZ-Date": "20170718T062915Z",
        "Accept": "*/*",
        "CloudFront-Viewer-Country": "US",
        "CloudFront-Forwarded-Proto": "https",
        "User-Agent": "agent/1.0",
        "Host": "abcdef123.execute-api.us-east-1.amazonaws.com",
    }
    if token is not None:
        headers["X-Gqlgov-Decision"] = token
    return {
        "type": "REQUEST",
        "methodArn": f"arn:aws:execute-api:us-east-1:{ACCOUNT}:abcdef123/prod/{http_method}{resource}",
        "resource": resource,
        "path": resource,
        "httpMethod": http_method,
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": {},
        "multiValueQueryStringParameters": {},
        "pathParameters": {},
        "stageVariables": {},
        "requestContext": {
            "path": f"/prod{resource}",
            "accountId": ACCOUNT,
            "resourceId": "05c7jb",
            "stage": "prod",
            "requestId": "b4bd5a5c-xmpl-4b79-853a-f982474efe18",
            "identity": _identity(user_arn),
            "resourcePath": resource,
            "httpMethod": http_method,
            "apiId": "abcdef123",
        },
    }


def _identity(user_arn: str | None) -> dict[str, Any]:
    """`requestContext.identity`: with a caller ARN as API Gateway fills it for AWS_IAM methods."""
    caller = "AROAXMPLROLEID:agent-session-1" if user_arn else None
    return {
        "cognitoIdentityPoolId": None,
        "accountId": ACCOUNT if user_arn else None,
        "cognitoIdentityId": None,
        "caller": caller,
        "sourceIp": "203.0.113.203",
        "principalOrgId": None,
        "accessKey": "ASIAXMPLACCESSKEY" if user_arn else None,
        "cognitoAuthenticationType": None,
        "cognitoAuthenticationProvider": None,
        "userArn": user_arn,
        "userAgent": "agent/1.0",
        "user": caller,
    }
