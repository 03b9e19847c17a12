"""/api/v1/docs (Swagger UI) and /api/v1/redoc from the server's own static files: nothing is
fetched from elsewhere, so they work offline. The files are vendored from npm by `make static`
(static-vendor.json); without that step these tests skip, saying so."""

import re

import pytest

from gqlgov.api_docs import vendored_version

pytestmark = pytest.mark.django_db
needs_vendored = pytest.mark.skipif(
    vendored_version("swagger-ui-dist") is None or vendored_version("redoc") is None,
    reason="Swagger UI / ReDoc are not vendored: run `make static` (python3 tools/vendor_static.py)",
)
SCRIPT_OR_STYLE = re.compile(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"')


@needs_vendored
@pytest.mark.parametrize("path", ["/api/v1/docs", "/api/v1/redoc"])
def test_the_docs_pages_load_scripts_and_styles_from_this_server_only(client, path):
    response = client.get(path)

    assert response.status_code == 200
    assert SCRIPT_OR_STYLE.findall(response.content.decode())
    assert all(url.startswith("/static/") for url in SCRIPT_OR_STYLE.findall(response.content.decode()))


@needs_vendored
@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_swagger_ui_and_redoc_render_the_api_with_the_network_cut_off(chromium, live_server):
    context = chromium.new_context()
    context.set_default_timeout(20000)
    elsewhere: list[str] = []

    def only_this_server(route):
        if route.request.url.startswith(live_server.url) or route.request.url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    context.route("**/*", only_this_server)
    errors: list[str] = []
    page = context.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(live_server.url + "/api/v1/docs")
        page.locator(".opblock-summary-path", has_text="/api/v1/check").first.wait_for()
        assert page.locator(".information-container .title").first.inner_text().startswith("gqlgov")
        page.screenshot(path=_screenshot("api-docs-swagger"), full_page=False)

        page.goto(live_server.url + "/api/v1/redoc")
        page.get_by_role("heading", name=re.compile("^gqlgov")).first.wait_for()
        page.get_by_text("/api/v1/check").first.wait_for(state="attached")
        page.screenshot(path=_screenshot("api-docs-redoc"), full_page=False)
    finally:
        context.close()
    assert elsewhere == []
    assert errors == []


def _screenshot(name: str) -> str:
    from tests.console.browser import SCREENSHOTS

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return str(SCREENSHOTS / f"{name}.png")
