"""The real app in a real browser.

Reflex's AppHarnessProd serves the built front end and the backend (with the jobs API) on
loopback ports; Playwright drives Debian's Chromium. Fixtures live per module: Playwright's
sync API holds an event loop on the main thread while it runs, which the async tests of other
modules must not meet.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = PROJECT_ROOT / "docs" / "screenshots"


def _require_chromium() -> None:
    if Path(CHROMIUM).exists():
        return
    reason = "Chromium is not installed (apt-get install -y chromium); browser tests need it"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="package")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One app for every browser test module: an app's datasets and pages (the books
    extension's among them) are registered once per process, and built once. Torn down
    with the package, so the tests after it see the shipped datasets alone."""
    _require_chromium()
    from reflex.testing import AppHarnessProd

    from jobs_ui.settings import get_settings

    data_dir = tmp_path_factory.mktemp("browser-data")
    os.environ["JOBS_UI_DATA_DIR"] = str(data_dir)
    os.environ.pop("DATABASE_URL", None)
    # The README's Extending example, loaded the way it says: its dataset and page are in.
    os.environ["JOBS_UI_EXTENSIONS"] = "tests.support.books_extension"
    get_settings.cache_clear()
    try:
        with AppHarnessProd.create(root=PROJECT_ROOT, app_name="jobs_ui") as running:
            yield running
    finally:
        os.environ.pop("JOBS_UI_EXTENSIONS", None)
        get_settings.cache_clear()
        books = sys.modules.get("tests.support.books_extension")
        if books is not None:
            books.forget()


@pytest.fixture(scope="module")
def app_services(harness: Any) -> Any:
    """The jobs services of the app under test (same process), to set up and inspect jobs."""
    return harness.app_module.services


@pytest.fixture(scope="module", autouse=True)
def empty_datasets(request: pytest.FixtureRequest) -> None:
    """Each module starts with empty dataset tables (the app is shared by all modules, and
    their files reuse keys); jobs stay, each browser context being a visitor of its own."""
    if "harness" not in request.fixturenames:
        return
    from sqlalchemy import delete

    from jobs_ui.datasets import registry

    services = request.getfixturevalue("app_services")
    with services.engine.begin() as connection:
        for dataset in registry:
            connection.execute(delete(dataset.sql_table))


@pytest.fixture(scope="module")
def browser(harness: Any) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class ConsoleLog:
    """Everything the page said on its console, and any uncaught errors."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def record(self, message: Any) -> None:
        if message.type == "error":
            self.errors.append(message.text)


@pytest.fixture
def page(browser: Any, harness: Any) -> Iterator[Any]:
    """A fresh browser context per test; fails the test on any console error."""
    context = browser.new_context(viewport={"width": 1100, "height": 820}, accept_downloads=True)
    new_page = context.new_page()
    console = ConsoleLog()
    new_page.on("console", console.record)
    new_page.on("pageerror", lambda error: console.errors.append(f"uncaught: {error}"))
    new_page.base_url = harness.frontend_url.rstrip("/")
    yield new_page
    context.close()
    assert console.errors == [], f"the browser console reported errors: {console.errors}"


def screenshot(page: Any, name: str) -> None:
    """Save a screenshot for the README (kept true by being made here)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))
