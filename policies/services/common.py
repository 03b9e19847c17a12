"""The errors every policy service raises, and what versions share: numbering and validation."""

from typing import Any

from django.conf import settings
from django.db.models import Max

from gqlgov.errors import ApiError
from policies import engine
from policies.checks.caches import schema_bundle
from policies.models import Schema, SchemaVersion


class PolicyInvalid(ApiError):
    status = 422

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        lines = "; ".join(
            f"{e.get('rule') or '-'} {e.get('field') or ''}: {e.get('message')}".strip() for e in errors[:20]
        )
        super().__init__("POLICY_INVALID", f"The policy is invalid: {lines}", status=422, details={"errors": errors})


class Conflict(ApiError):
    status = 409

    def __init__(self, code: str, message: str, details: Any = None) -> None:
        super().__init__(code, message, status=409, details=details)


def _next_number(queryset) -> int:
    return (queryset.aggregate(top=Max("number"))["top"] or 0) + 1


def validate_document(schema: Schema, document: dict[str, Any], schema_version: SchemaVersion | None = None) -> None:
    """Compiles the document against `schema_version` (a draft's pin; else the schema's latest
    version) and the server's hard caps; PolicyInvalid lists every error. Every write of a policy
    (file, API, console) comes here."""
    schema_version = schema_version or schema.latest_version
    bundle = schema_bundle(schema_version) if schema_version is not None else None
    try:
        engine.compile_policy(document, schema=bundle, caps=engine.Limits(**settings.GQLGOV_HARD_CAPS))
    except engine.PolicyValidationError as exc:
        raise PolicyInvalid(list(exc.errors)) from exc
