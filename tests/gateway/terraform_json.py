"""An offline check of a Terraform document in JSON syntax (there is no terraform binary here).

No JSON Schema of Terraform's JSON configuration syntax is published on PyPI or npm, so this is
one, written from HashiCorp's "JSON Configuration Syntax" page: the top-level block types and
the shapes of ``variable`` and ``output``, plus what a schema cannot say: every ``var.x`` is
declared, every resource reference (in ``${...}`` and ``depends_on``) names a declared
resource, variable defaults have their declared type, no stray template directive (``%{``),
and each resource carries the arguments the AWS provider requires of its type.
"""

from __future__ import annotations

import re
from typing import Any

import jsonschema

NAME = "^[A-Za-z_][A-Za-z0-9_-]*$"
_block_map = {"type": "object", "propertyNames": {"pattern": NAME}}
TERRAFORM_JSON_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "terraform": {"type": "object"},
        "provider": {**_block_map, "additionalProperties": {"type": ["object", "array"]}},
        "variable": {
            **_block_map,
            "additionalProperties": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "type": {"type": "string"},
                    "description": {"type": "string"},
                    "default": {},
                    "sensitive": {"type": "boolean"},
                    "nullable": {"type": "boolean"},
                    "ephemeral": {"type": "boolean"},
                    "validation": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["condition", "error_message"],
                            "additionalProperties": False,
                            "properties": {"condition": {"type": "string"}, "error_message": {"type": "string"}},
                        },
                    },
                },
            },
        },
        "locals": {"type": "object"},
        "resource": {**_block_map, "additionalProperties": {**_block_map, "additionalProperties": {"type": "object"}}},
        "data": {**_block_map, "additionalProperties": {**_block_map, "additionalProperties": {"type": "object"}}},
        "module": {**_block_map, "additionalProperties": {"type": "object", "required": ["source"]}},
        "output": {
            **_block_map,
            "additionalProperties": {
                "type": "object",
                "required": ["value"],
                "additionalProperties": False,
                "properties": {
                    "value": {},
                    "description": {"type": "string"},
                    "sensitive": {"type": "boolean"},
                    "depends_on": {"type": "array", "items": {"type": "string"}},
                    "precondition": {"type": "array"},
                },
            },
        },
        "moved": {"type": "array"},
        "import": {"type": "array"},
        "check": {"type": "object"},
    },
}

# Required arguments of each resource type the export writes (registry.terraform.io, hashicorp/aws
# >= 5.0). A type missing here is an error: add it, with its required arguments, when the export
# starts writing it.
REQUIRED_ARGUMENTS: dict[str, set[str]] = {
    "aws_api_gateway_rest_api": {"name"},
    "aws_api_gateway_model": {"rest_api_id", "name", "content_type"},
    "aws_api_gateway_request_validator": {"rest_api_id", "name"},
    "aws_api_gateway_resource": {"rest_api_id", "parent_id", "path_part"},
    "aws_api_gateway_method": {"rest_api_id", "resource_id", "http_method", "authorization"},
    "aws_api_gateway_integration": {"rest_api_id", "resource_id", "http_method", "type"},
    "aws_api_gateway_gateway_response": {"rest_api_id", "response_type"},
    "aws_api_gateway_usage_plan": {"name"},
    "aws_api_gateway_api_key": {"name"},
    "aws_api_gateway_usage_plan_key": {"key_id", "key_type", "usage_plan_id"},
    "aws_api_gateway_deployment": {"rest_api_id"},
    "aws_api_gateway_stage": {"rest_api_id", "stage_name", "deployment_id"},
    "aws_api_gateway_method_settings": {"rest_api_id", "stage_name", "method_path", "settings"},
    "aws_api_gateway_account": set(),
    "aws_cloudwatch_log_group": set(),
    "aws_api_gateway_authorizer": {"rest_api_id", "name"},
    "aws_lambda_function": {"function_name", "role"},
    "aws_lambda_permission": {"action", "function_name", "principal"},
}
VARIABLE_TYPES = {"string": str, "number": (int, float), "bool": bool}
TEMPLATE = re.compile(r"(?<!\$)\$\{([^}]*)\}")
RESOURCE_REF = re.compile(r"(?<![\w.])([a-z][a-z0-9]*_[a-z0-9_]+)\.([A-Za-z_][A-Za-z0-9_-]*)")
VAR_REF = re.compile(r"(?<![\w.])var\.([A-Za-z_][A-Za-z0-9_-]*)")


def strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in strings(item)]
    return []


def problems(document: dict[str, Any]) -> list[str]:
    """Everything wrong with the document; empty when it passes."""
    found = [f"schema: {error.message} at {list(error.path)}" for error in _validator().iter_errors(document)]
    if found:
        return found
    variables = document.get("variable", {})
    resources = {(kind, name) for kind, body in document.get("resource", {}).items() for name in body}
    for name, declared in variables.items():
        kind = VARIABLE_TYPES.get(declared.get("type", "string"))
        if kind is None:
            found.append(f"variable {name}: type {declared['type']!r} is not string, number or bool")
        elif "default" in declared and not isinstance(declared["default"], kind):
            found.append(f"variable {name}: default {declared['default']!r} is not a {declared['type']}")
    for text in strings(document):
        if re.search(r"(?<!%)%\{", text):
            found.append(f"template directive in {text[:80]!r}")
        for expression in TEMPLATE.findall(text):
            found += [f"undeclared variable var.{v}" for v in VAR_REF.findall(expression) if v not in variables]
            found += [
                f"reference to undeclared resource {kind}.{name}"
                for kind, name in RESOURCE_REF.findall(expression)
                if kind != "var" and (kind, name) not in resources
            ]
    for kind, body in document.get("resource", {}).items():
        if kind not in REQUIRED_ARGUMENTS:
            found.append(f"resource type {kind} is not known to this check")
            continue
        for name, arguments in body.items():
            missing = REQUIRED_ARGUMENTS[kind] - set(arguments)
            if missing:
                found.append(f"{kind}.{name} lacks {sorted(missing)}")
            for dependency in arguments.get("depends_on", []):
                if tuple(dependency.split(".", 1)) not in resources:
                    found.append(f"{kind}.{name} depends on undeclared {dependency}")
    return found


def _validator() -> jsonschema.protocols.Validator:
    cls = jsonschema.validators.validator_for(TERRAFORM_JSON_SCHEMA)
    cls.check_schema(TERRAFORM_JSON_SCHEMA)
    return cls(TERRAFORM_JSON_SCHEMA)
