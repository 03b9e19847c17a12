"""The plan as an OpenAPI 3.0 document with API Gateway's ``x-amazon-apigateway-*`` extensions
(importable with ImportRestApi), one function per part: security, operations, the document.
What REST API import does not take (tags, usage plans, the stage) is carried in ``x-gqlgov-*``."""

from __future__ import annotations

from typing import Any

from policies.gateway.enforcement import ACCOUNT_ID, DECISION_HEADER, invocation_uri
from policies.gateway.iac.names import logical
from policies.gateway.plan import api_description


def openapi(plan: dict[str, Any]) -> dict[str, Any]:
    schemes = _security_schemes(plan)
    security = [{name: [] for name in schemes}] if schemes else []
    integration = {
        "type": plan["integration"]["type"].lower(),
        "httpMethod": plan["integration"]["httpMethod"],
        "uri": plan["integration"]["uri"],
        "passthroughBehavior": "when_no_match",
    }
    paths = {route["path"]: {"post": _operation(plan, route, security, integration)} for route in plan["routes"]}
    model_schema = openapi_schema(plan["model"]["schema"])
    document: dict[str, Any] = {
        "openapi": "3.0.1",
        "info": {
            "title": plan["api"]["name"],
            "description": api_description(plan),
            "version": f"policy-v{plan['policy_version']}",
        },
        "paths": paths,
        "components": {"schemas": {plan["model"]["name"]: model_schema}, "securitySchemes": schemes},
        "x-amazon-apigateway-api-key-source": "HEADER",
        "x-amazon-apigateway-request-validators": {
            plan["validator"]["name"]: {
                "validateRequestBody": plan["validator"]["validateRequestBody"],
                "validateRequestParameters": plan["validator"]["validateRequestParameters"],
            }
        },
        "x-amazon-apigateway-gateway-responses": plan.get("gateway_responses", {}),
        # Tags, usage plans and API keys are not part of a REST API definition; carried along.
        "x-gqlgov-tags": plan["tags"],
        "x-gqlgov-stage": plan["stage"],
        "x-gqlgov-usage-plans": plan["usage_plans"],
        # Nor are Lambda functions and their permissions.
        "x-gqlgov-lambda": plan["lambda"],
        "x-gqlgov-enforcement": plan["enforcement"],
    }
    if plan["api"]["policy"]:
        document["x-amazon-apigateway-policy"] = plan["api"]["policy"]
    return document


def openapi_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON Schema (draft 4) as an OpenAPI 3.0 Schema Object: no ``$schema`` or ``title``, and
    ``type: [X, "null"]`` as ``type: X, nullable: true`` (3.0 has no type lists)."""
    converted: dict[str, Any] = {}
    for key, value in schema.items():
        if key in ("$schema", "title"):
            continue
        if key == "type" and isinstance(value, list):
            types = [kind for kind in value if kind != "null"]
            if len(types) != 1:
                raise ValueError(f"OpenAPI 3.0 cannot say type {value}")
            converted["type"] = types[0]
            if "null" in value:
                converted["nullable"] = True
        elif key == "properties":
            converted[key] = {name: openapi_schema(sub) for name, sub in value.items()}
        else:
            converted[key] = value
    return converted


def _security_schemes(plan: dict[str, Any]) -> dict[str, Any]:
    """SigV4 when the methods use AWS_IAM, the x-api-key header when they require API keys, the
    gqlgov-decision REQUEST authorizer in authorizer mode."""
    schemes: dict[str, Any] = {}
    if plan["method"]["authorizationType"] == "AWS_IAM":
        schemes["sigv4"] = {
            "type": "apiKey",
            "name": "Authorization",
            "in": "header",
            "x-amazon-apigateway-authtype": "awsSigv4",
        }
    if plan["method"]["apiKeyRequired"]:
        schemes["api_key"] = {"type": "apiKey", "name": "x-api-key", "in": "header"}
    authorizer = plan["authorizer"]
    if authorizer:
        target = plan["target"]
        function_arn = authorizer["function_arn"] or (
            f"arn:aws:lambda:{target['region']}:{target['account_id'] or ACCOUNT_ID}:function:"
            f"{authorizer['function_name']}"
        )
        schemes[authorizer["name"]] = {
            "type": "apiKey",
            "name": DECISION_HEADER,
            "in": "header",
            "x-amazon-apigateway-authtype": "custom",
            "x-amazon-apigateway-authorizer": {
                "type": "request",
                "identitySource": authorizer["identitySource"],
                "authorizerUri": invocation_uri(target["region"], function_arn),
                "authorizerResultTtlInSeconds": authorizer["authorizerResultTtlInSeconds"],
            },
        }
    return schemes


def _operation(
    plan: dict[str, Any], route: dict[str, Any], security: list[dict[str, Any]], integration: dict[str, Any]
) -> dict[str, Any]:
    """One route's POST: the body model, the validator and the backend integration."""
    return {
        "operationId": logical("op", route["operation"] or "graphql"),
        "summary": f"GraphQL {route['operation'] or 'documents'}",
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{plan['model']['name']}"}}},
        },
        "responses": {"200": {"description": "The GraphQL response"}},
        "security": security,
        "x-amazon-apigateway-request-validator": plan["validator"]["name"],
        "x-amazon-apigateway-integration": integration,
    }
