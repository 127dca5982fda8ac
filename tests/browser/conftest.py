"""A real browser (Debian's Chromium, driven by Playwright) against a live test server.

One browser and one browsing context for the whole package: launching Chromium costs seconds,
and a kept context keeps the admin's CSS and scripts cached; each test clears its cookies.
Screenshots of the main pages land in artifacts/screenshots/ (git-ignored).
"""
import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
TIMEOUT_MS = 5000


def _unavailable(reason: str):
    # CI sets REQUIRE_BROWSER=1 once it has Chromium: there a missing piece fails instead of skipping.
    if os.environ.get("REQUIRE_BROWSER"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="package")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install -r requirements.txt)")
    if not shutil.which(CHROMIUM):
        _unavailable(f"no Chromium at {CHROMIUM}: apt-get install -y chromium (.ci/run does)")
    # Playwright's sync API keeps an asyncio loop running on this thread, and Django refuses ORM
    # calls from a thread with a running loop; the tests' own ORM calls are plain synchronous ones.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        yield chromium
        chromium.close()
    finally:
        # Package scope: the loop stops before the rest of the suite runs on this thread.
        playwright.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(autouse=True)
def _settings(settings):
    from cryptography.fernet import Fernet

    settings.ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    # Each test makes its operators; the production hasher's rounds would cost a second a login.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="package")
def context(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    yield context
    context.close()


@pytest.fixture
def page(context):
    context.clear_cookies()
    page = context.new_page()
    yield page
    page.close()


@pytest.fixture
def open_as(page, live_server):
    """open_as(role) -> a page signed in as a new operator of that role (None: superuser).

    Signing in through the form is its own test; the others carry a session cookie, which
    skips the login page's rate limiter and a page load.
    """
    from django.test import Client

    from clients.services import create_operator

    def open_page(role=None):
        user, _ = create_operator(f"op-{role or 'super'}", role=role)
        client = Client()
        client.force_login(user)
        page.context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value,
                                   "url": live_server.url}])
        return page

    return open_page


def screenshot(page, name: str):
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
