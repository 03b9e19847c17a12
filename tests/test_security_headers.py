"""HSTS, the admin's Content-Security-Policy, X-Forwarded-Proto from trusted proxies only, and the
SSO login without OIDC settings (issue 19, item 13)."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.console.conftest import make_user, signed_in
from tests.test_deployment import ROOT

pytestmark = pytest.mark.django_db

PRODUCTION = {
    "GQLGOV_ENV": "production",
    "DATABASE_URL": "postgres://u:p@db:5432/gqlgov",
    "REDIS_URL": "redis://redis:6379/0",
    "SECRET_KEY": "x" * 50,
    "ALLOWED_HOSTS": "gqlgov.example.com",
}


def production_settings(*names: str, **env: str) -> list:
    """The values of settings `names` in a fresh process started in production mode with `env`."""
    script = f"from gqlgov import settings as s; import json; print(json.dumps([getattr(s, n) for n in {names!r}]))"
    clean = {key: value for key, value in os.environ.items() if key not in PRODUCTION}
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**clean, **PRODUCTION, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_production_sends_hsts_and_never_trusts_x_forwarded_proto_by_itself():
    assert production_settings("SECURE_HSTS_SECONDS", "SECURE_PROXY_SSL_HEADER") == [31_536_000, None]
    assert production_settings("SECURE_HSTS_SECONDS", GQLGOV_HSTS_SECONDS="600") == [600]


@pytest.mark.parametrize(
    ("peer", "secure"), [("203.0.113.9", False), ("10.1.2.3", True)], ids=["any-client", "trusted-proxy"]
)
def test_x_forwarded_proto_is_believed_only_from_a_trusted_proxy(client, settings, peer, secure):
    settings.GQLGOV_TRUSTED_PROXIES = ["10.0.0.0/8"]
    settings.SECURE_HSTS_SECONDS = 3600
    response = client.get("/admin/login/", REMOTE_ADDR=peer, HTTP_X_FORWARDED_PROTO="https")
    assert response.status_code == 200
    assert ("Strict-Transport-Security" in response) is secure
    assert response.wsgi_request.is_secure() is secure


def test_admin_pages_carry_the_content_security_policy(settings):
    viewer = signed_in(make_user("vera", "viewer"))
    for path in ("/admin/", "/admin/login/", "/admin/audit/"):
        response = viewer.get(path, follow=True)
        assert response["Content-Security-Policy"] == settings.GQLGOV_CSP
    assert "script-src 'self';" in settings.GQLGOV_CSP and "unsafe-inline" not in settings.GQLGOV_CSP.split(";")[1]
    assert "frame-ancestors 'none'" in settings.GQLGOV_CSP


def test_no_template_has_an_inline_script_or_event_handler():
    """The CSP allows scripts from files only: a template with inline code would break under it."""
    templates = [path for path in ROOT.glob("*/**/templates/**/*.html") if ".venv" not in path.parts]
    assert templates
    offending = []
    for path in templates:
        text = path.read_text()
        for match in re.finditer(r"<script\b[^>]*>|\son[a-z]+\s*=|javascript:", text):
            tag = match.group(0)
            if tag.startswith("<script") and ("src=" in tag or "application/json" in tag):
                continue
            offending.append(f"{Path(path).relative_to(ROOT)}: {tag.strip()}")
    assert offending == []


@pytest.mark.parametrize("path", ["/oidc/authenticate/?next=/admin/", "/oidc/callback/?code=x&state=y"])
def test_an_unconfigured_sso_login_answers_404_oidc_not_configured(client, settings, path):
    settings.OIDC_ENABLED = False
    response = client.get(path)
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "OIDC_NOT_CONFIGURED"
    assert "not configured" in error["message"]
    assert "Sign in with" not in client.get("/admin/login/").content.decode()
