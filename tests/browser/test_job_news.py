"""In Chromium: a visitor hears of their jobs on whatever page they are on. A job ending
shows a toast in every tab of theirs (and in no one else's), the navbar counts their running
jobs, and a job page's tab title leads with how far the job is."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import expect

from jobs_ui.models import JobKind
from tests.browser.conftest import screenshot
from tests.browser.test_accessibility import blocking_violations
from tests.browser.test_pages import idle_export, open_page, upload, visitor_of
from tests.support.files import contacts_csv

TOAST = "[data-sonner-toast]"


def test_an_export_ending_shows_its_toast_in_the_visitors_other_tab(
    page, browser, app_services, harness
):
    job = idle_export(app_services, page)  # started for this visitor, not yet run
    open_page(page, f"/exports/{job.id}")
    expect(page.get_by_test_id("status-badge")).to_have_text("Waiting", timeout=30_000)
    expect(page).to_have_title("Queued · Export · jobs_ui")

    other_tab = page.context.new_page()
    other_tab.goto(page.base_url + "/exports")
    running = other_tab.get_by_test_id("running-count")
    expect(running).to_have_text("1", timeout=30_000)
    expect(running).to_have_attribute("aria-label", "1 job running")

    stranger = browser.new_context()
    stranger_tab = stranger.new_page()
    stranger_tab.goto(page.base_url + "/exports")
    expect(stranger_tab.get_by_role("button", name="Start export")).to_be_visible()

    app_services.runner.submit(job.id)
    toast = other_tab.locator(TOAST).filter(has_text="Export of contacts completed")
    expect(toast).to_be_visible(timeout=30_000)
    expect(other_tab.get_by_test_id("running-count")).to_have_count(0)
    other_tab.wait_for_timeout(600)  # the toast's entrance, for the picture only
    screenshot(other_tab, "job-news-toast")
    assert blocking_violations(other_tab) == []
    with other_tab.expect_download(timeout=30_000) as started:
        toast.get_by_role("button", name="Download").click()
    assert started.value.suggested_filename.endswith(".csv")

    # The tab on the job's own page shows the end there, not as a toast as well.
    expect(page.get_by_test_id("status-badge")).to_have_text("Completed", timeout=30_000)
    expect(page).to_have_title("Done · Export · jobs_ui")
    expect(page.locator(TOAST)).to_have_count(0)
    # Another visitor hears nothing of it.
    expect(stranger_tab.locator(TOAST)).to_have_count(0)
    expect(stranger_tab.get_by_test_id("running-count")).to_have_count(0)
    stranger.close()


def test_an_import_running_in_one_tab_is_counted_titled_and_told_in_another(page, tmp_path: Path):
    other_tab = page.context.new_page()
    other_tab.goto(page.base_url + "/jobs")
    expect(other_tab.get_by_role("heading", name="Your jobs")).to_be_visible(timeout=30_000)

    upload(page, contacts_csv(tmp_path / "told.csv", 150_000, start=12_000_000))
    expect(page.get_by_test_id("status-badge")).to_have_text("Running", timeout=30_000)
    expect(page).to_have_title(re.compile(r"^\d{1,3}% · Import · jobs_ui$"))
    expect(other_tab.get_by_test_id("running-count")).to_have_text("1", timeout=30_000)
    screenshot(other_tab, "job-news-running")

    toast = other_tab.locator(TOAST).filter(has_text="Import of contacts completed")
    expect(toast).to_be_visible(timeout=120_000)
    expect(toast).to_contain_text("Created 150,000 rows")
    toast.get_by_role("button", name="Open").click()
    other_tab.wait_for_url(re.compile(r".*/imports/[0-9a-f-]{36}$"), timeout=30_000)
    expect(other_tab.get_by_test_id("import-summary")).to_have_text(
        "Created 150,000 rows", timeout=30_000
    )
    expect(other_tab).to_have_title("Done · Import · jobs_ui")


def test_the_jobs_list_shows_a_job_started_elsewhere_as_soon_as_it_is_heard_of(page, app_services):
    owner = visitor_of(page, app_services)
    open_page(page, "/jobs")
    expect(page.get_by_test_id("no-jobs")).to_be_visible(timeout=30_000)
    job = app_services.store.create(  # started elsewhere: by the API, say
        kind=JobKind.EXPORT, dataset="contacts", owner=owner, params={"format": "csv"}
    )
    # Sooner than the list's own refresh (LIST_REFRESH_SECONDS, 10 s) could have brought it.
    expect(page.get_by_test_id("job-row")).to_have_count(1, timeout=6_000)
    expect(page.get_by_test_id("job-row")).to_contain_text("Waiting")
    app_services.runner.submit(job.id)
    expect(page.get_by_test_id("job-row")).to_contain_text("Completed", timeout=30_000)
