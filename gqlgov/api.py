"""The one NinjaAPI, mounted at /api/v1/, and the handlers that give every error one shape."""

import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.parser import Parser

from gqlgov.api_docs import LocalSwagger
from gqlgov.errors import ApiError, error_body, first_line
from gqlgov.request_body import json_object

logger = logging.getLogger("gqlgov.api")


class StrictJSONParser(Parser):
    """Rejects bodies that are not UTF-8 JSON objects before any view sees them."""

    def parse_body(self, request: HttpRequest):
        return json_object(request)


api = NinjaAPI(
    title="gqlgov",
    version="1",
    description="GraphQL governance for AI agents: identities, schema registry, pre-check decisions.",
    urls_namespace="api",
    parser=StrictJSONParser(),
    docs=LocalSwagger(),
)


def _respond(request: HttpRequest, status: int, body: dict, headers: dict | None = None) -> HttpResponse:
    response = api.create_response(request, body, status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


@api.exception_handler(ApiError)
def _api_error(request, exc: ApiError):
    return _respond(request, exc.status, exc.body(), exc.headers)


@api.exception_handler(ValidationError)
def _validation_error(request, exc: ValidationError):
    errors = [
        {
            "loc": [str(part) for part in error.get("loc", [])],
            "msg": error.get("msg", ""),
            "type": error.get("type", ""),
        }
        for error in exc.errors[:50]
    ]
    return _respond(request, 422, error_body("VALIDATION_ERROR", "The request is invalid.", {"errors": errors}))


@api.exception_handler(AuthenticationError)
def _authentication_error(request, exc):
    return _respond(
        request,
        401,
        error_body("AUTHENTICATION_REQUIRED", "Send Authorization: Bearer <API token or JWT>."),
        {"WWW-Authenticate": 'Bearer realm="gqlgov"'},
    )


@api.exception_handler(Http404)
def _not_found(request, exc):
    return _respond(request, 404, error_body("NOT_FOUND", "No such resource."))


@api.exception_handler(RequestDataTooBig)
def _too_big(request, exc):
    return _respond(
        request,
        413,
        error_body("PAYLOAD_TOO_LARGE", f"Request body exceeds {settings.GQLGOV_MAX_BODY_BYTES} bytes."),
    )


@api.exception_handler(HttpError)
def _http_error(request, exc: HttpError):
    codes = {400: "MALFORMED_REQUEST", 403: "PERMISSION_DENIED", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}
    return _respond(request, exc.status_code, error_body(codes.get(exc.status_code, "MALFORMED_REQUEST"), str(exc)))


# Seconds a caller should wait after DATABASE_UNAVAILABLE: a restart or failover takes a few.
DATABASE_RETRY_AFTER_S = 2


@api.exception_handler(OperationalError)
@api.exception_handler(InterfaceError)
def _database_unavailable(request, exc):
    # The database is unreachable or dropped the connection (restart, failover): a documented 503,
    # not a bug. The next request opens a fresh connection (CONN_HEALTH_CHECKS): no restart needed.
    logger.error("database unavailable: %s", first_line(exc))
    return _respond(
        request,
        503,
        error_body("DATABASE_UNAVAILABLE", "The database is unavailable; retry shortly."),
        {"Retry-After": str(DATABASE_RETRY_AFTER_S)},
    )


@api.exception_handler(Exception)
def _unexpected(request, exc):
    logger.exception("unhandled error")
    return _respond(
        request, 500, error_body("INTERNAL_ERROR", "Internal error; the request id identifies it in the logs.")
    )


def _mount_routers() -> None:
    from agents.api import router as agents_router
    from gqlgov.health import router as health_router
    from gqlgov.metrics import router as metrics_router
    from policies.api import router as policies_router
    from policies.approvals.api import router as approvals_router
    from policies.checks.api import router as checks_router
    from policies.gateway.api import router as exports_router
    from policies.signing.api import router as signing_router

    # Django tries URL patterns in order and each miss costs: the check, the hot path, comes first.
    api.add_router("/", checks_router)
    api.add_router("/", policies_router)
    api.add_router("/", approvals_router)
    api.add_router("/", health_router)
    api.add_router("/", signing_router)
    api.add_router("/", metrics_router)
    api.add_router("/exports", exports_router)
    api.add_router("/agents", agents_router)


_mount_routers()
