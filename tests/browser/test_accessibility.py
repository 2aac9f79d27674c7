"""axe-core over the import pages in Chromium: no serious or critical violation on either
step of /imports, on a finished import's page, or on a failed one's, in light and dark."""

from __future__ import annotations

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from tests.support.files import write_contacts

BLOCKING = {"serious", "critical"}


def blocking_violations(page) -> list[str]:
    """Each serious or critical violation, with the first elements it was found on.

    Checked once nothing is fading in: mid-animation colours are blends no reader sees
    for long, and axe would judge their contrast."""
    page.wait_for_function(
        "document.getAnimations().every(a => a.playState !== 'running')", timeout=10_000
    )
    results = Axe().run(page)
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']} at "
        + "; ".join(
            " ".join(node["target"]) + " " + node.get("failureSummary", "")[:200]
            for node in violation["nodes"][:3]
        )
        for violation in results.response["violations"]
        if violation["impact"] in BLOCKING
    ]


@pytest.fixture(params=["light", "dark"])
def themed_page(request, browser, harness):
    context = browser.new_context(
        viewport={"width": 1100, "height": 820}, color_scheme=request.param
    )
    new_page = context.new_page()
    new_page.base_url = harness.frontend_url.rstrip("/")
    yield new_page
    context.close()


def test_both_steps_of_the_import_form_and_the_job_page(themed_page, tmp_path):
    page = themed_page
    page.goto(page.base_url + "/imports")
    expect(page.get_by_text("Drop a file here")).to_be_visible(timeout=30_000)
    assert blocking_violations(page) == []

    path = tmp_path / "people.csv"
    write_contacts(path)  # a few rows bad: the done page lists them
    page.set_input_files("input[type=file]", str(path))
    page.get_by_test_id("inspect-button").click()
    expect(page.get_by_test_id("mapping-table")).to_be_visible(timeout=30_000)
    assert blocking_violations(page) == []

    page.get_by_test_id("import-button").click()
    page.wait_for_url(re.compile(r".*/imports/[0-9a-f-]{36}"), timeout=30_000)
    expect(page.get_by_test_id("error-summary")).to_be_visible(timeout=30_000)
    expect(page.get_by_test_id("error-table")).to_be_visible()
    assert blocking_violations(page) == []


def test_the_other_pages(themed_page, tmp_path):
    """Home, the exports form and an export's page, and the jobs list (with a job in it)."""
    page = themed_page
    for path, ready in (("/", "Imports"), ("/exports", "Start export")):
        page.goto(page.base_url + path)
        expect(
            page.get_by_role("button", name=ready).or_(page.get_by_role("link", name=ready)).first
        ).to_be_visible(timeout=30_000)
        assert blocking_violations(page) == [], path
    page.get_by_role("button", name="Start export").click()
    page.wait_for_url(re.compile(r".*/exports/[0-9a-f-]{36}"), timeout=30_000)
    expect(page.get_by_test_id("status-badge")).to_have_text("Completed", timeout=30_000)
    assert blocking_violations(page) == []
    page.goto(page.base_url + "/jobs")
    expect(page.get_by_test_id("status-badge").first).to_be_visible(timeout=30_000)
    assert blocking_violations(page) == []
