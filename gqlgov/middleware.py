"""Request context for logs, the body-size cap, and JSON error pages on /api/."""

import contextvars
import functools
import io
import ipaddress
import logging
import re
import time
import uuid

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from gqlgov.errors import error_body

logger = logging.getLogger("gqlgov.request")

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
agent_var: contextvars.ContextVar[str] = contextvars.ContextVar("agent", default="")

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# The routes whose bodies may exceed GQLGOV_MAX_BODY_BYTES (policies/api.py: register_schema_version,
# register_api_version).
_SCHEMA_UPLOAD = re.compile(r"^/api/v1/(?:schemas|apis)/[^/]+/versions/?$")
_CODES_BY_STATUS = {
    400: "MALFORMED_REQUEST",
    401: "AUTHENTICATION_REQUIRED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
}


class RequestContextFilter(logging.Filter):
    """Adds the current request id and agent to every log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        agent = agent_var.get()
        if agent:
            record.agent = agent
        return True


def json_formatter(**options: object) -> logging.Formatter:
    """The formatter of every log line (settings.LOGGING): one JSON object per line, encoded by orjson.
    logging.config hands dict options over as ConvertingDicts, whose every lookup converts again
    (11 per line for rename_fields): they are copied into plain dicts once here."""
    from pythonjsonlogger.orjson import OrjsonFormatter

    return OrjsonFormatter(**{key: dict(value) if isinstance(value, dict) else value
                              for key, value in options.items()})


class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        request_token = request_id_var.set(request_id)
        agent_token = agent_var.set("")
        try:
            # /mcp is an API too: the same body cap, and HTTP-level errors in the same shape.
            is_api = request.path.startswith(("/api/", "/mcp"))
            response = self._refused_early(request) if is_api else None
            if response is None:
                response = self.get_response(request)
            if is_api and response.status_code >= 400 and not _is_json(response):
                response = _as_json_error(response)
            response["X-Request-ID"] = request_id
            logger.info(
                "request",
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    "outcome": getattr(response, "gqlgov_outcome", None),
                },
            )
            return response
        finally:
            agent_var.reset(agent_token)
            request_id_var.reset(request_token)

    @staticmethod
    def _refused_early(request: HttpRequest) -> HttpResponse | None:
        if "\x00" in request.path or "%00" in request.META.get("QUERY_STRING", ""):
            return JsonResponse(error_body("MALFORMED_REQUEST", "NUL characters are not accepted in URLs."), status=400)
        if not request.META.get("CONTENT_LENGTH") and "chunked" in request.headers.get("Transfer-Encoding", "").lower():
            return _read_chunked_body(request)
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return JsonResponse(error_body("MALFORMED_REQUEST", "Invalid Content-Length header."), status=400)
        # The route's limit is looked up only for a body over the smaller of the two.
        if length > min(settings.GQLGOV_MAX_BODY_BYTES, settings.GQLGOV_MAX_SCHEMA_BYTES) and length > (
            limit := _body_limit(request)
        ):
            return _too_large(limit, {"limit": limit, "actual": length})
        return None


def _read_chunked_body(request: HttpRequest) -> HttpResponse | None:
    """Reads a chunked body (no Content-Length) within the route's cap, or refuses it.

    Django reads CONTENT_LENGTH bytes of a body, so without this a chunked one reads as empty.
    gunicorn decodes the chunks and ends wsgi.input with the body (wsgi.input_terminated); a server
    that does not promise that (runserver) would hand us the raw chunks, so the body is refused.
    Behind nginx (deploy/nginx) a chunked body arrives with a Content-Length and never gets here."""
    if not request.META.get("wsgi.input_terminated"):
        return JsonResponse(
            error_body("MALFORMED_REQUEST", "Chunked request bodies are not accepted here: send Content-Length."),
            status=411,
        )
    limit = _body_limit(request)
    stream, chunks, size = request.META["wsgi.input"], [], 0
    while size <= limit:
        chunk = stream.read(limit + 1 - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if size > limit:
        return _too_large(limit, {"limit": limit})
    body = b"".join(chunks)
    request.META["CONTENT_LENGTH"] = str(len(body))
    request._stream = io.BytesIO(body)  # what request.body and request.read() consume
    return None


def _too_large(limit: int, details: dict) -> JsonResponse:
    return JsonResponse(error_body("PAYLOAD_TOO_LARGE", f"Request body exceeds {limit} bytes.", details), status=413)


def _body_limit(request: HttpRequest) -> int:
    if request.method == "POST" and _SCHEMA_UPLOAD.match(request.path):
        return settings.GQLGOV_MAX_SCHEMA_BYTES
    return settings.GQLGOV_MAX_BODY_BYTES


def _is_json(response: HttpResponse) -> bool:
    return response.get("Content-Type", "").startswith("application/json")


def _as_json_error(response: HttpResponse) -> JsonResponse:
    status = response.status_code
    code = _CODES_BY_STATUS.get(status, "INTERNAL_ERROR" if status >= 500 else "MALFORMED_REQUEST")
    message = {404: "No such endpoint.", 405: "Method not allowed."}.get(status, "Request failed.")
    json_response = JsonResponse(error_body(code, message), status=status)
    if "Allow" in response:
        json_response["Allow"] = response["Allow"]
    return json_response


@functools.lru_cache(maxsize=4)
def _networks(cidrs: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


def is_trusted_proxy(address: str) -> bool:
    """Whether `address` is in GQLGOV_TRUSTED_PROXIES (addresses or CIDRs)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in _networks(tuple(settings.GQLGOV_TRUSTED_PROXIES)))


def client_ip(request: HttpRequest) -> str:
    """The client address: the socket peer, or the X-Forwarded-For hop a trusted proxy vouches for."""
    peer = request.META.get("REMOTE_ADDR", "") or "0.0.0.0"
    if not settings.GQLGOV_TRUSTED_PROXIES or not is_trusted_proxy(peer):
        return peer
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    # Walk from the nearest hop outwards, skipping our own proxies; the first untrusted hop is the client.
    for hop in reversed(hops):
        if not is_trusted_proxy(hop):
            try:
                ipaddress.ip_address(hop)
            except ValueError:
                return peer
            return hop
    return hops[0] if hops else peer
