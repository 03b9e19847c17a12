"""POST /mcp (the MCP server, Streamable HTTP) and its OAuth protected-resource metadata
(RFC 9728) at /.well-known/oauth-protected-resource.

The caller authenticates exactly as on the REST API (agents/auth.py: API tokens and IdP JWTs,
whose issuer, audience and signature are checked there). A refusal before MCP is reached (no or a
bad token, a foreign Origin) is an HTTP error in the API's one error shape; everything inside the
protocol is the SDK's JSON-RPC.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from agents.auth import CheckAuth
from gqlgov.errors import ApiError, error_body
from policies.mcp.server import DJANGO_REQUEST_KEY, Exchange, runner_of_this_thread

METADATA_PATH = "/.well-known/oauth-protected-resource"
# As POST /check authenticates (a cached identity is confirmed by the check's limiter round trip;
# the other tools confirm it themselves, tools.call). One instance: ninja builds its OpenAPI
# description in every constructor.
_AUTH = CheckAuth()


def resource_url() -> str:
    """The MCP server's resource identifier (RFC 8707/9728): its public URL."""
    return f"{settings.GQLGOV_PUBLIC_URL}/mcp"


def protected_resource_metadata(request: HttpRequest) -> JsonResponse:
    """RFC 9728 metadata: which authorization server issues tokens for /mcp and how to send them."""
    if request.method not in ("GET", "HEAD"):
        return _error(405, "METHOD_NOT_ALLOWED", "Method not allowed.", {"Allow": "GET, HEAD"})
    metadata: dict[str, Any] = {
        "resource": resource_url(),
        "authorization_servers": [settings.AGENT_JWT_ISSUER] if settings.AGENT_JWT_ISSUER else [],
        "bearer_methods_supported": ["header"],
        "resource_name": "gqlgov",
        "resource_documentation": f"{settings.GQLGOV_PUBLIC_URL}/api/v1/docs",
    }
    if settings.AGENT_JWT_ALGORITHMS:
        metadata["resource_signing_alg_values_supported"] = list(settings.AGENT_JWT_ALGORITHMS)
    response = JsonResponse(metadata)
    response["Cache-Control"] = "public, max-age=300"
    return response


@csrf_exempt  # bearer tokens only, never cookies: nothing for a cross-site form to ride on
def mcp_endpoint(request: HttpRequest) -> HttpResponse:
    """The MCP server for the authenticated caller: one JSON-RPC request in, one JSON answer out."""
    if request.method != "POST":
        # Stateless and JSON-only: no GET stream to open, no session to DELETE.
        return _error(405, "METHOD_NOT_ALLOWED", "Send MCP requests with POST.", {"Allow": "POST"})
    origin = request.headers.get("Origin")
    if origin and origin not in _allowed_origins():
        # The spec's defence against DNS rebinding: a browser page elsewhere may not drive it.
        return _error(403, "PERMISSION_DENIED", "Requests from this Origin are not accepted.")
    try:
        identity = _AUTH(request)
    except ApiError as error:
        return _refusal(error)
    if identity is None:
        return _unauthenticated(error_body("AUTHENTICATION_REQUIRED", "Send Authorization: Bearer <API token or JWT>."))
    exchange = runner_of_this_thread().serve(Exchange(_scope(request), request.body))
    response = HttpResponse(b"".join(exchange.chunks), status=exchange.status)
    for name, value in exchange.headers:
        if name.lower() != "content-length":
            response[name] = value
    response.gqlgov_outcome = getattr(request, "gqlgov_outcome", None)  # type: ignore[attr-defined]
    return response


def _allowed_origins() -> set[str]:
    return {settings.GQLGOV_PUBLIC_URL, *settings.CSRF_TRUSTED_ORIGINS}


def _scope(request: HttpRequest) -> dict[str, Any]:
    """The ASGI scope of the Django request, as the SDK's transport reads it."""
    headers = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in request.headers.items()]
    host = request.get_host()  # validated against ALLOWED_HOSTS
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": request.method,
        "scheme": request.scheme, "path": request.path, "raw_path": request.path.encode(), "query_string": b"",
        "root_path": "", "headers": headers, "server": (host, None), "client": (request.META.get("REMOTE_ADDR"), 0),
        DJANGO_REQUEST_KEY: request,
    }


def _challenge(error: str | None = None) -> str:
    parts = [f'resource_metadata="{settings.GQLGOV_PUBLIC_URL}{METADATA_PATH}"']
    if error:
        parts.insert(0, f'error="{error}"')
    return "Bearer " + ", ".join(parts)


def _unauthenticated(body: dict[str, Any], error: str | None = None) -> JsonResponse:
    response = JsonResponse(body, status=401)
    response["WWW-Authenticate"] = _challenge(error)
    return response


def _refusal(error: ApiError) -> JsonResponse:
    if error.status == 401:
        # RFC 6750's code for every refused token (expired, revoked, another audience, unknown).
        return _unauthenticated(error.body(), "invalid_token")
    return _error(error.status, error.code, error.message, error.headers, error.details)


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None,
           details: Any = None) -> JsonResponse:
    response = JsonResponse(error_body(code, message, details), status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response
