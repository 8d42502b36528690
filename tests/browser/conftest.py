"""Real-browser tests: Playwright driving the system Chromium against Django's live server.

Skipped, with the reason, where Playwright or a Chromium binary is missing (`.ci/run` installs
Debian's chromium and a CJK font). Screenshots go to var/artifacts/screenshots/<test>/.
"""
import os
import re
import shutil
from pathlib import Path

import pytest

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "artifacts" / "screenshots"
PASSWORD = "test-pass-123"  # tests.factories.make_user


def _chromium() -> str | None:
    for candidate in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if candidate and (path := shutil.which(candidate)):
            return path
    return None


def pytest_collection_modifyitems(config, items):
    reason = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        reason = "Playwright is not installed (pip install -e '.[dev]')"
    if reason is None and _chromium() is None:
        reason = "no Chromium binary (apt-get install chromium, or set CHROMIUM=/path/to/chrome)"
    for item in items:
        if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture
def chromium():
    """A browser per test. Playwright's sync API runs an event loop in this thread while it is
    open, and under a running loop Django hands out other (context-local) connections: the loop
    must not outlive the test, or later tests lose the serialized migration data and their own
    connection. The tests' own ORM calls are plain synchronous code, so Django's async guard is
    lifted only meanwhile."""
    from django.db import connections
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"])
            try:
                yield browser
            finally:
                browser.close()
                connections.close_all()  # the connections opened under the loop
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


class Screen:
    """One browser page at a viewport width, logged in through the real login form."""

    def __init__(self, browser, base_url, folder: Path, width: int):
        self.context = browser.new_context(viewport={"width": width, "height": 900}, locale="zh-CN")
        self.page = self.context.new_page()
        self.base_url = base_url
        self.folder = folder
        self.width = width

    def go(self, path: str):
        self.page.goto(self.base_url + path)
        return self.page

    def login(self, username: str):
        page = self.go("/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", PASSWORD)
        page.click("form button")
        page.wait_for_url(re.compile(r".*/$"))
        return page

    def shot(self, name: str) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{name}-{self.width}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def fits_width(self) -> bool:
        return self.page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth")


@pytest.fixture
def screen(chromium, live_server, request):
    screens = []

    def open_screen(width: int = 1280) -> Screen:
        folder = SCREENSHOTS / re.sub(r"[^\w.-]+", "_", request.node.name)
        made = Screen(chromium, live_server.url, folder, width)
        screens.append(made)
        return made

    yield open_screen
    for made in screens:
        made.context.close()
