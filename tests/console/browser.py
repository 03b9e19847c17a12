"""Browser-test harness: Debian's Chromium driven by Playwright (never `playwright install`),
people signing in through the loopback OIDC provider, and screenshots as test artifacts."""

import dataclasses
import os
import re
from pathlib import Path

import pytest

from tests.support.oidc_provider import ProviderUser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"

PEOPLE = {
    "editor": ProviderUser(
        sub="sub-eddie",
        email="eddie@example.com",
        name="Eddie Editor",
        preferred_username="eddie",
        groups=("gqlgov-editors",),
    ),
    "approver": ProviderUser(
        sub="sub-april",
        email="april@example.com",
        name="April Approver",
        preferred_username="april",
        groups=("gqlgov-approvers",),
    ),
    "viewer": ProviderUser(
        sub="sub-vera",
        email="vera@example.com",
        name="Vera Viewer",
        preferred_username="vera",
        groups=("gqlgov-viewers",),
    ),
    "editor_and_approver": ProviderUser(
        sub="sub-bea",
        email="bea@example.com",
        name="Bea Both",
        preferred_username="bea",
        groups=("gqlgov-editors", "gqlgov-approvers"),
    ),
}


@pytest.fixture(scope="module")
def chromium():
    """Headless Chromium for one test module (so no event loop outlives the browser tests)."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop running in this thread; Django's async-safety
    # check would otherwise refuse the ORM calls tests make between browser steps.
    saved = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        if saved is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = saved


@pytest.fixture
def idp(oidc_provider, oidc_settings):
    """The loopback provider, with gqlgov-* groups synced (oidc_settings keeps the role backend)."""
    oidc_settings.OIDC_GROUP_PREFIX = "gqlgov-"
    return oidc_provider


@dataclasses.dataclass
class Session:
    """One person's browser context, signed in through the IdP."""

    page: object
    base_url: str

    def go(self, path: str):
        self.page.goto(self.base_url + path)
        return self.page

    def shot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def csrf_token(self) -> str:
        cookies = {c["name"]: c["value"] for c in self.page.context.cookies()}
        return cookies.get("csrftoken", "")

    def forged_post(self, path: str, form: dict[str, str]):
        """A POST the page offers no control for, with a valid session and CSRF token."""
        return self.page.request.post(
            self.base_url + path,
            form={"csrfmiddlewaretoken": self.csrf_token(), **form},
            headers={"Referer": self.base_url + path},
            max_redirects=0,
        )


@pytest.fixture
def sign_in(chromium, idp, live_server):
    """sign_in("editor") -> a Session of that person, signed in through the IdP's login page."""
    contexts = []

    def _sign_in(who: str) -> Session:
        idp.next_user = PEOPLE[who]
        context = chromium.new_context(viewport={"width": 1360, "height": 900})
        context.set_default_timeout(15000)
        contexts.append(context)
        page = context.new_page()
        page.goto(live_server.url + "/admin/")
        page.get_by_role("link", name=re.compile("Sign in with Test IdP")).click()
        page.wait_for_url(re.compile(r"/admin/$"))
        return Session(page, live_server.url)

    yield _sign_in
    for context in contexts:
        context.close()
