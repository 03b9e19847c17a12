"""Infrastructure as code: the same plan the applier uses, rendered as a CloudFormation template,
a Terraform ``.tf.json``, an OpenAPI 3 document with the ``x-amazon-apigateway-*`` extensions,
or the plan itself as JSON. Pure: a plan dict in, text out; each format builds one piece per
API Gateway resource kind (cloudformation.py, terraform.py, openapi.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from policies.gateway.iac.cloudformation import cloudformation
from policies.gateway.iac.openapi import openapi
from policies.gateway.iac.terraform import terraform

FORMATS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "cloudformation": cloudformation,
    "terraform": terraform,
    "openapi": openapi,
    "json": lambda plan: plan,
}


def render(plan: dict[str, Any], fmt: str) -> str:
    """The plan in the given format, as indented JSON text (CloudFormation accepts JSON)."""
    return json.dumps(FORMATS[fmt](plan), indent=2, sort_keys=False) + "\n"
