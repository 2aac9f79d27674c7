"""End to end in Chromium: the import and export flows, fallbacks, cancel, not found."""

from __future__ import annotations

import csv
import io
import re
import time
from pathlib import Path

import httpx
from playwright.sync_api import expect

from jobs_ui.access.visitor import COOKIE_NAME
from jobs_ui.models import JobKind
from jobs_ui.state.backend import api_base_url
from tests.browser.conftest import screenshot
from tests.support.files import contacts_csv, write_contacts

BAR_DONE = "100%"


def open_page(page, path: str) -> None:
    page.goto(page.base_url + path)


def start_import(page) -> None:
    """Through both steps: inspect the chosen file, then import with the suggested mapping."""
    page.get_by_test_id("inspect-button").click()
    expect(page.get_by_test_id("import-button")).to_be_enabled(timeout=30_000)
    page.get_by_test_id("import-button").click()


def upload(page, path: Path, dataset: str = "contacts") -> None:
    open_page(page, "/imports")
    expect(page.get_by_text("Drop a file here")).to_be_visible()
    page.set_input_files("input[type=file]", str(path))
    expect(page.get_by_text(path.name)).to_be_visible()
    start_import(page)
    page.wait_for_url(re.compile(r".*/imports/[0-9a-f-]{36}"), timeout=30_000)


def test_import_flow_shows_the_bar_the_counts_and_the_errors(page, tmp_path):
    path = tmp_path / "people.csv"
    write_contacts(path)
    open_page(page, "/imports")
    page.set_input_files("input[type=file]", str(path))
    expect(page.get_by_text("people.csv")).to_be_visible()
    screenshot(page, "imports")
    start_import(page)
    page.wait_for_url(re.compile(r".*/imports/[0-9a-f-]{36}"), timeout=30_000)
    expect(page.get_by_test_id("progress-percent")).to_have_text(BAR_DONE, timeout=30_000)
    expect(page.get_by_test_id("import-summary")).to_have_text("Created 3 rows, skipped 3")
    table = page.get_by_test_id("error-table")
    expect(table).to_contain_text("email is required")
    expect(table).to_contain_text("email: not a valid email address")
    expect(page.get_by_test_id("status-badge")).to_have_text("Completed")
    screenshot(page, "import-done")
    report = page.request.get(page.get_by_test_id("error-report-link").get_attribute("href"))
    assert report.ok
    assert [row["row"] for row in csv.DictReader(io.StringIO(report.text()))] == ["4", "5", "6"]


def test_import_progress_moves_while_a_big_file_runs(page, tmp_path):
    upload(page, contacts_csv(tmp_path / "big.csv", 150_000, start=10_000_000))
    expect(page.get_by_test_id("status-badge")).to_have_text("Running", timeout=30_000)
    expect(page.get_by_test_id("transport")).to_have_text("Live")
    screenshot(page, "import-running")
    expect(page.get_by_test_id("progress-percent")).to_have_text(BAR_DONE, timeout=120_000)
    expect(page.get_by_test_id("import-summary")).to_have_text("Created 150,000 rows")


def test_export_flow_downloads_the_file_by_itself(page, tmp_path):
    upload(page, contacts_csv(tmp_path / "export-me.csv", 5, start=5_000_000))
    expect(page.get_by_test_id("progress-percent")).to_have_text(BAR_DONE, timeout=30_000)
    open_page(page, "/exports")
    page.get_by_placeholder("Only rows containing this text").fill("person500000")
    with page.expect_download(timeout=30_000) as started:
        page.get_by_role("button", name="Start export").click()
    download = started.value
    assert re.fullmatch(r"contacts-\d{4}-\d{2}-\d{2}-\d{6}\.csv", download.suggested_filename)
    lines = Path(download.path()).read_text().splitlines()
    assert lines[0] == "name,email,company,phone"
    assert sorted(lines[1:]) == sorted(
        f"Person {n},person{n}@example.com,Company {n % 50}," for n in range(5_000_000, 5_000_005)
    )
    link = page.get_by_test_id("download-link")
    expect(link).to_contain_text(download.suggested_filename)
    screenshot(page, "export-done")


def visitor_of(page, app_services) -> str:
    """The owner id of this browser context's visitor: its signed cookie, as the app set it
    when the page's websocket first connected."""
    open_page(page, "/")
    deadline = time.monotonic() + 15
    while True:
        cookies = {c["name"]: c["value"] for c in page.context.cookies()}
        if COOKIE_NAME in cookies:
            return app_services.visitors.principal(cookies[COOKIE_NAME]).subject
        assert time.monotonic() < deadline, "the app set no visitor cookie"
        time.sleep(0.05)


def idle_export(app_services, page):
    """An export of this browser's visitor that the runner has not been given yet, so the
    test decides when it runs."""
    return app_services.store.create(
        kind=JobKind.EXPORT,
        dataset="contacts",
        owner=visitor_of(page, app_services),
        params={"format": "csv"},
    )


def test_polling_only_when_sse_is_turned_off(page, app_services):
    job = idle_export(app_services, page)
    open_page(page, f"/exports/{job.id}?sse=off")
    expect(page.get_by_test_id("status-badge")).to_have_text("Waiting", timeout=30_000)
    expect(page.get_by_test_id("transport")).to_have_text("Checking every few seconds")
    assert app_services.hub.watched_jobs == 0  # no stream was opened
    app_services.runner.submit(job.id)
    expect(page.get_by_test_id("status-badge")).to_have_text("Completed", timeout=30_000)
    expect(page.get_by_test_id("download-link")).to_be_visible()


def test_an_export_whose_file_was_deleted_says_so(page, app_services):
    job = idle_export(app_services, page)
    app_services.runner.submit(job.id)
    deadline = time.monotonic() + 30
    while app_services.store.get(job.id).status.value != "COMPLETED":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    app_services.store.forget_files(job.id)  # what the retention sweep records
    open_page(page, f"/exports/{job.id}")
    expect(page.get_by_test_id("file-deleted")).to_be_visible(timeout=30_000)
    expect(page.get_by_test_id("download-link")).to_have_count(0)


def test_polling_takes_over_when_the_stream_fails(page, app_services, monkeypatch):
    job = idle_export(app_services, page)

    def broken_stream(_job_id):
        raise RuntimeError("stream unavailable")

    monkeypatch.setattr(app_services.hub, "subscribe", broken_stream)
    open_page(page, f"/exports/{job.id}")
    transport = page.get_by_test_id("transport")
    expect(transport).to_have_text("Checking every few seconds", timeout=30_000)
    app_services.runner.submit(job.id)
    expect(page.get_by_test_id("status-badge")).to_have_text("Completed", timeout=30_000)
    expect(page.get_by_test_id("download-link")).to_be_visible()


def test_unknown_job_says_not_found(page):
    open_page(page, "/imports/00000000-0000-4000-8000-000000000000")
    expect(page.get_by_test_id("not-found")).to_contain_text("Job not found", timeout=30_000)
    open_page(page, "/exports/not-a-job-id")
    expect(page.get_by_test_id("not-found")).to_contain_text("Job not found", timeout=30_000)


def test_cancel_stops_a_running_import(page, tmp_path):
    upload(page, contacts_csv(tmp_path / "cancel-me.csv", 200_000, start=7_000_000))
    expect(page.get_by_test_id("status-badge")).to_have_text("Running", timeout=30_000)
    page.get_by_role("button", name="Cancel").click()
    expect(page.get_by_test_id("status-badge")).to_have_text("Cancelled", timeout=30_000)
    expect(page.get_by_role("button", name="Retry")).to_be_visible()


def test_jobs_page_lists_this_browsers_jobs(page, tmp_path):
    upload(page, contacts_csv(tmp_path / "listed.csv", 3, start=8_000_000))
    expect(page.get_by_test_id("progress-percent")).to_have_text(BAR_DONE, timeout=30_000)
    open_page(page, "/jobs")
    rows = page.get_by_test_id("job-row")
    expect(rows).to_have_count(1, timeout=30_000)
    expect(rows.first).to_contain_text("Import · contacts")
    expect(rows.first).to_contain_text("Completed")
    screenshot(page, "jobs")
    rows.first.get_by_role("link").click()
    expect(page.get_by_test_id("import-summary")).to_have_text("Created 3 rows", timeout=30_000)


def test_closing_the_tab_stops_following(page, app_services):
    job = idle_export(app_services, page)
    open_page(page, f"/exports/{job.id}")
    expect(page.get_by_test_id("status-badge")).to_have_text("Waiting", timeout=30_000)
    assert app_services.hub.watched_jobs == 1
    page.close()
    deadline = time.monotonic() + 15
    while app_services.hub.watched_jobs and time.monotonic() < deadline:
        time.sleep(0.1)
    assert app_services.hub.watched_jobs == 0, "the follower outlived its tab"


PLAIN_EVENTSOURCE = """
([url]) => new Promise((resolve) => {
  const seen = [];
  const eventSource = new EventSource(url);
  eventSource.onmessage = (event) => {
    const message = JSON.parse(event.data);
    seen.push({type: message.type, status: message.status, progress: message.progress,
               result: message.result});
    if (message.type === 'status_update' && message.status === 'COMPLETED') {
      eventSource.close();
      resolve(seen);
    }
  };
  eventSource.onerror = () => { eventSource.close(); resolve(seen); };
})
"""


def no_icon(context) -> None:
    """The API's origin has no favicon; the browser's 404 for it is not the app's error."""
    context.route("**/favicon.ico", lambda route: route.fulfill(status=204))


def test_the_original_plain_eventsource_snippet_works(page, browser, tmp_path):
    upload(page, contacts_csv(tmp_path / "es.csv", 30_000, start=9_000_000))
    job_id = page.url.rsplit("/", 1)[-1]
    # The snippet as the contract gives it: a relative URL, so on the API's own origin.
    url = f"/api/import-export/jobs/ws?jobId={job_id}"
    no_icon(page.context)
    page.goto(f"{api_base_url()}/ping")
    seen = page.evaluate(PLAIN_EVENTSOURCE, [url])
    assert seen[0]["type"] == "connected"
    assert seen[-1]["status"] == "COMPLETED" and seen[-1]["progress"] == 100
    assert seen[-1]["result"]["importedCount"] == 30_000
    progress = [message["progress"] for message in seen[1:]]
    assert progress == sorted(progress)
    # Another browser is another visitor: the same snippet hears only "Job not found".
    other = browser.new_context()
    try:
        no_icon(other)
        stranger = other.new_page()
        stranger.goto(f"{api_base_url()}/ping")
        refused = stranger.evaluate(PLAIN_EVENTSOURCE, [url])
        assert [message["type"] for message in refused] == ["error"]
        status = stranger.evaluate(
            "async ([u]) => (await fetch(u)).status", [f"/api/import-export/jobs/{job_id}"]
        )
        assert status == 404
        # Its own pages show the job as not found too, not someone else's data.
        stranger.goto(f"{page.base_url}/imports/{job_id}")
        expect(stranger.get_by_test_id("not-found")).to_contain_text(
            "Job not found", timeout=30_000
        )
    finally:
        other.close()


def test_an_upload_sent_for_someone_elses_tab_imports_nothing(page, app_services, tmp_path):
    """A tab's client token is no secret (it is in its websocket's URL): an upload that
    names it but comes from someone else is refused, and the tab's visitor gets no job."""
    owner = visitor_of(page, app_services)
    open_page(page, "/imports")
    expect(page.get_by_text("Drop a file here")).to_be_visible()
    tab_token = page.wait_for_function("() => window.sessionStorage.getItem('token')").json_value()
    assert tab_token
    handler = "reflex___state____state.jobs_ui___pages___imports____import_form_state.submit_file"
    headers = {"reflex-client-token": tab_token, "reflex-event-handler": handler}
    planted = {"files": ("planted.csv", b"name,email\nMallory,mallory@example.com\n")}
    url = f"{api_base_url()}/_upload"
    with httpx.Client(timeout=30) as stranger:
        nobody = stranger.post(url, headers=headers, files=planted)
        assert nobody.status_code == 401 and nobody.json()["error"].startswith("Sign in")
        stranger.get(f"{api_base_url()}/api/import-export/jobs")  # now a visitor of its own
        someone = stranger.post(url, headers=headers, files=planted)
        assert "did not come from this page" in someone.text
        wrong = stranger.post(
            url, headers={**headers, "reflex-event-handler": "x.y"}, files=planted
        )
        assert wrong.status_code == 400 and wrong.json()["error"]
    assert list(app_services.store.list_jobs(owner=owner)) == []


def test_the_readme_extension_page_imports_into_its_dataset(page, tmp_path):
    """The Extending example's one call: /books imports books, its job page follows the
    job, the hook's toast shows, and the shipped forms offer the new dataset too."""
    path = tmp_path / "books.csv"
    path.write_text("isbn,title\n9780131103627,The C Programming Language\nshort,Bad ISBN\n")
    open_page(page, "/books")
    expect(page.get_by_role("heading", name="Import books")).to_be_visible()
    expect(page.get_by_text("Drop a file here")).to_be_visible()
    expect(page.get_by_role("combobox")).to_have_count(0)  # no choice: its one dataset
    page.set_input_files("input[type=file]", str(path))
    start_import(page)
    page.wait_for_url(re.compile(r".*/books/[0-9a-f-]{36}"), timeout=30_000)
    expect(page.get_by_test_id("import-summary")).to_have_text(
        "Created 1 row, skipped 1", timeout=30_000
    )
    expect(page.get_by_test_id("error-table")).to_contain_text("isbn")
    expect(page.get_by_text("1 added")).to_be_visible()  # the page's on_complete toast
    screenshot(page, "extension-books-done")
    open_page(page, "/imports")
    page.get_by_role("combobox").click()
    expect(page.get_by_role("option", name="books")).to_be_visible()
