"""Which requests came over HTTPS, and the Content-Security-Policy of the HTML pages.

`X-Forwarded-Proto` is believed only from a peer in GQLGOV_TRUSTED_PROXIES (Django's own
SECURE_PROXY_SSL_HEADER would believe any client, who could then pass for HTTPS: HSTS, secure
cookies and the CSRF origin check all follow `request.is_secure()`). gunicorn is told to read
no such header itself (gqlgov/gunicorn.conf.py), so this is the one place that decides.
"""

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from gqlgov.middleware import is_trusted_proxy


class ForwardedProtoMiddleware:
    """First in MIDDLEWARE: the scheme a trusted proxy reports becomes the request's scheme."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        forwarded = request.META.pop("HTTP_X_FORWARDED_PROTO", None)
        if forwarded is not None and is_trusted_proxy(request.META.get("REMOTE_ADDR", "")):
            request.META["HTTP_X_FORWARDED_PROTO"] = forwarded
            # The first value is what the client used, as in Django's SECURE_PROXY_SSL_HEADER.
            scheme = forwarded.split(",", 1)[0].strip().lower()
            if scheme in ("http", "https"):
                request.META["wsgi.url_scheme"] = scheme  # what WSGIRequest.scheme reads
        return self.get_response(request)


class ContentSecurityPolicyMiddleware:
    """GQLGOV_CSP on every HTML answer (the admin, the login and error pages), unless DEBUG (whose
    error pages have inline scripts and styles) or GQLGOV_CSP is empty."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        policy = settings.GQLGOV_CSP
        if (
            policy
            and not settings.DEBUG
            and "Content-Security-Policy" not in response
            and response.get("Content-Type", "").startswith("text/html")
        ):
            response["Content-Security-Policy"] = policy
        return response
