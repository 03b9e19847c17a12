"""How a target makes the pre-check's decisions binding, as plan parts. Pure.

- ``backend``: every method keeps ``AWS_IAM``; the backend runs ``gqlgov_verify.lambda_guard``
  (or the WSGI/ASGI middleware), which verifies the decision token in ``X-Gqlgov-Decision``
  against the body and the caller.
- ``authorizer``: every method is ``CUSTOM`` with the REQUEST authorizer ``gqlgov-decision``
  (identity source the header, result caching off). API Gateway allows one authorization type
  per method, so ``AWS_IAM`` is not on the methods and a caller has no IAM identity there:
  principal-based resource-policy statements could never match it (and gqlgov's Deny of every
  unlisted caller would deny all), so gqlgov writes none; a resource policy still applies and
  statements of your own (e.g. ``aws:SourceIp``) are kept. API keys stay as ``auth_mode`` says.
  The authorizer is the function given by ARN, or ``gqlgov-decision-<target>`` deployed by the
  export from the verifier package zip.
- ``none`` (advisory): today's gateway; the resource policy alone limits callers (access.py).

Every Lambda function API Gateway invokes (the ``AWS_PROXY`` backend, the authorizer) gets a
``lambda:InvokeFunction`` permission for ``apigateway.amazonaws.com`` limited to the API's
source ARN (``arn:aws:execute-api:REGION:ACCOUNT:API_ID/*``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from policies.gateway.plan_basics import ADVISORY, AUTHORIZER, BACKEND, TargetInfo

DECISION_HEADER = "X-Gqlgov-Decision"
AUTHORIZER_NAME = "gqlgov-decision"
IDENTITY_SOURCE = f"method.request.header.{DECISION_HEADER}"
AUTHORIZER_RUNTIME = "python3.11"
AUTHORIZER_HANDLER = "gqlgov_verify.authorizer.handler"
JWKS_PATH = "/api/v1/.well-known/jwks.json"
INVOKE_ACTION = "lambda:InvokeFunction"
INVOKE_PRINCIPAL = "apigateway.amazonaws.com"
# Filled in by the applier (and by each IaC format in its own syntax): the API's id, and its
# account when the target does not name one (then the function's account is taken).
REST_API_ID = "{rest_api_id}"
ACCOUNT_ID = "{account_id}"
BACKEND_GUARD = (
    f"run gqlgov_verify.lambda_guard (or the gqlgov_verify WSGI/ASGI middleware), which reads the "
    f"decision token from the {DECISION_HEADER} header and refuses a request gqlgov did not allow"
)
SUMMARIES = {
    BACKEND: "backend: every method keeps AWS_IAM; the backend must " + BACKEND_GUARD + ".",
    AUTHORIZER: (
        f"authorizer: the REQUEST authorizer {AUTHORIZER_NAME} verifies the decision token in {DECISION_HEADER} "
        "on every method (signature, expiry, the route's operation among its root fields); it cannot see "
        "the body, so binding the token to the document stays with the backend, which should " + BACKEND_GUARD + "."
    ),
    ADVISORY: (
        "advisory: nothing at the gateway checks that the pre-check allowed a request; the resource "
        "policy and usage plans alone limit callers, and any document may be posted to a route they admit."
    ),
}


@dataclass(frozen=True)
class VerifierPackage:
    """The zip the export deploys as the authorizer function, and what the function is told."""

    zip_file: str  # path of the zip (GQLGOV_AUTHORIZER_ZIP)
    code_sha256: str  # base64 SHA-256 of the zip, as Lambda reports CodeSha256
    issuer: str  # GQLGOV_PUBLIC_URL: the tokens' `iss`
    jwks_url: str  # <GQLGOV_PUBLIC_URL>/api/v1/.well-known/jwks.json


def invocation_uri(region: str, function_arn: str) -> str:
    """The URI API Gateway invokes a Lambda function with (integrations and authorizers)."""
    return f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{function_arn}/invocations"


def function_name(target_name: str) -> str:
    return f"{AUTHORIZER_NAME}-{target_name}"


def statement_id(target_name: str, role: str) -> str:
    """The Sid of a target's permission on a function (at most 100 characters, unique per target)."""
    sid = f"gqlgov-{target_name}-{role}"
    if len(sid) <= 100:
        return sid
    digest = hashlib.sha256(target_name.encode()).hexdigest()[:8]
    return f"gqlgov-{target_name[: 100 - len(role) - 17]}-{digest}-{role}"


def method_authorization(target: TargetInfo, *, use_iam: bool) -> dict[str, Any]:
    """The methods' authorization: the authorizer in authorizer mode, else AWS_IAM or none."""
    if target.enforcement == AUTHORIZER:
        return {"authorizationType": "CUSTOM", "authorizer": AUTHORIZER_NAME}
    return {"authorizationType": "AWS_IAM" if use_iam else "NONE"}


def authorizer_plan(target: TargetInfo) -> dict[str, Any] | None:
    """The REST API's REQUEST authorizer (authorizer mode only); `function_arn` empty: the
    deployed function's (lambda_plan)."""
    if target.enforcement != AUTHORIZER:
        return None
    return {
        "name": AUTHORIZER_NAME,
        "type": "REQUEST",
        "identitySource": IDENTITY_SOURCE,
        "authorizerResultTtlInSeconds": 0,
        "function_arn": target.authorizer_arn,
        "function_name": "" if target.authorizer_arn else function_name(target.name),
    }


def lambda_plan(target: TargetInfo, verifier: VerifierPackage | None) -> dict[str, Any]:
    """The Lambda side: the authorizer function to deploy (or None) and the invoke permissions."""
    function = None
    if target.enforcement == AUTHORIZER and not target.authorizer_arn:
        if verifier is None:
            raise ValueError("authorizer mode without an authorizer ARN needs the verifier package")
        function = {
            "name": function_name(target.name),
            "description": f"gqlgov: verifies decision tokens for target {target.name}",
            "runtime": AUTHORIZER_RUNTIME,
            "handler": AUTHORIZER_HANDLER,
            "role": target.authorizer_role_arn,
            "timeout": 10,
            "memory": 256,
            "environment": {"GQLGOV_JWKS_URL": verifier.jwks_url, "GQLGOV_ISSUER": verifier.issuer},
            "code": {"zip_file": verifier.zip_file, "sha256": verifier.code_sha256},
        }
    source_arn = f"arn:aws:execute-api:{target.region}:{target.account or ACCOUNT_ID}:{REST_API_ID}/*"
    functions = []
    if target.lambda_arn:
        functions.append(("backend", target.lambda_arn))
    if target.enforcement == AUTHORIZER:
        functions.append(("authorizer", target.authorizer_arn or function_name(target.name)))
    permissions = [
        {
            "role": role,
            "function": function_ref,
            "statement_id": statement_id(target.name, role),
            "action": INVOKE_ACTION,
            "principal": INVOKE_PRINCIPAL,
            "source_arn": source_arn,
        }
        for role, function_ref in functions
    ]
    return {"function": function, "permissions": permissions}


def enforcement_summary(target: TargetInfo, whole_documents: list[str]) -> dict[str, Any]:
    """What the plan enforces and what the backend must do, for the report and the IaC outputs."""
    return {
        "mode": target.enforcement,
        "summary": SUMMARIES[target.enforcement],
        "decision_header": DECISION_HEADER,
        "backend_requirement": BACKEND_GUARD if target.enforcement != ADVISORY else "",
        "whole_document_route": whole_documents,
    }
