"""End to end in Chromium: the import form's mapping step, driven by keyboard where it
counts; a file lacking a required column; a failed import mapped again from its job page."""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path

from playwright.sync_api import expect

from jobs_ui.access.visitor import COOKIE_NAME
from jobs_ui.models import JobKind
from tests.browser.conftest import screenshot

CRM_CSV = (
    "Full Name,E-mail,Company,Phone\n"
    "Ada Lovelace,ada@example.com,Analytical Engines,+44 20 7946 0001\n"
    "Grace Hopper,grace@example.com,Navy,+1 202 555 0102\n"
    "Alan Turing,alan@example.com,Bletchley Park,+44 20 7946 0003\n"
)


def to_mapping_step(page, path: Path) -> None:
    page.goto(page.base_url + "/imports")
    expect(page.get_by_text("Drop a file here")).to_be_visible(timeout=30_000)
    page.set_input_files("input[type=file]", str(path))
    expect(page.get_by_text(path.name)).to_be_visible()
    page.get_by_test_id("inspect-button").click()
    expect(page.get_by_test_id("mapping-table")).to_be_visible(timeout=30_000)


def column_select(page, field: str):
    return page.get_by_label(f"Column for {field}")


def test_a_crm_file_is_mapped_by_keyboard_and_imported(page, tmp_path, app_services):
    path = tmp_path / "crm.csv"
    path.write_text(CRM_CSV)
    to_mapping_step(page, path)
    expect(page.get_by_test_id("mapping-file")).to_have_text("crm.csv")
    expect(page.get_by_test_id("mapping-row")).to_have_count(4)
    expect(column_select(page, "name")).to_have_value("Full Name")
    expect(column_select(page, "email")).to_have_value("E-mail")
    expect(column_select(page, "company")).to_have_value("Company")
    expect(column_select(page, "phone")).to_have_value("Phone")
    expect(page.get_by_test_id("samples-email")).to_have_text(
        "ada@example.com, grace@example.com, alan@example.com"
    )
    expect(page.get_by_test_id("mapping-row").first).to_contain_text("required")
    expect(page.get_by_test_id("remembered-note")).to_have_count(0)
    # Keyboard only: focus the phone's select and step up to "Not imported".
    phone = column_select(page, "phone")
    phone.focus()
    for _ in range(4):
        page.keyboard.press("ArrowUp")
    expect(phone).to_have_value("")
    expect(page.get_by_test_id("samples-phone")).to_have_count(0)
    expect(page.get_by_test_id("import-blocker")).to_have_count(0)
    importing = page.get_by_test_id("import-button")
    expect(importing).to_be_enabled()
    importing.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/imports/[0-9a-f-]{36}"), timeout=30_000)
    expect(page.get_by_test_id("status-badge")).to_have_text("Completed", timeout=30_000)
    expect(page.get_by_test_id("import-summary")).to_have_text("Created 3 rows")
    job = app_services.store.get(uuid.UUID(page.url.rsplit("/", 1)[-1]))
    assert job.params["mapping"] == {
        "name": "Full Name",
        "email": "E-mail",
        "company": "Company",
        "phone": None,
    }
    # The same headers again: the mapping just chosen is offered, and says so.
    to_mapping_step(page, path)
    expect(page.get_by_test_id("remembered-note")).to_contain_text("Your mapping from last time")
    expect(column_select(page, "phone")).to_have_value("")


def test_a_file_without_a_required_column_cannot_be_imported(page, tmp_path):
    path = tmp_path / "no-email.csv"
    path.write_text("Full Name,Company\nAda Lovelace,Analytical Engines\n")
    to_mapping_step(page, path)
    expect(column_select(page, "email")).to_have_value("")
    expect(page.get_by_test_id("import-button")).to_be_disabled()
    expect(page.get_by_test_id("import-blocker")).to_have_text(
        "Choose a column for the required field email to import."
    )
    # A column chosen for two fields holds the import too, and says which.
    column_select(page, "email").select_option("Company")
    expect(page.get_by_test_id("import-blocker")).to_contain_text(
        "“Company” is chosen for email and company"
    )
    expect(page.get_by_test_id("import-button")).to_be_disabled()
    page.get_by_test_id("back-button").click()
    expect(page.get_by_test_id("inspect-button")).to_be_visible()


def test_mapping_step_screenshots_light_and_dark(browser, harness, tmp_path):
    path = tmp_path / "crm.csv"
    path.write_text(CRM_CSV)
    for scheme in ("light", "dark"):
        context = browser.new_context(viewport={"width": 1100, "height": 900}, color_scheme=scheme)
        try:
            page = context.new_page()
            page.base_url = harness.frontend_url.rstrip("/")
            to_mapping_step(page, path)
            expect(column_select(page, "phone")).to_have_value("Phone")
            dark = page.evaluate("() => document.documentElement.classList.contains('dark')")
            assert dark == (scheme == "dark")
            screenshot(page, f"import-mapping-{scheme}")
        finally:
            context.close()


def visitor_of(page, app_services) -> str:
    page.goto(page.base_url + "/")
    deadline = time.monotonic() + 15
    while True:
        cookies = {c["name"]: c["value"] for c in page.context.cookies()}
        if COOKIE_NAME in cookies:
            return app_services.visitors.principal(cookies[COOKIE_NAME]).subject
        assert time.monotonic() < deadline, "the app set no visitor cookie"
        time.sleep(0.05)


def failed_on_columns(app_services, owner: str, content: str):
    """An import of `owner` that failed because its file lacked a required column."""
    job_id = uuid.uuid4()
    stored = app_services.files.upload_path(job_id, "old.csv")
    stored.parent.mkdir(parents=True, exist_ok=True)
    stored.write_text(content)
    params = {
        "upload": app_services.files.relative(stored),
        "fileName": "old.csv",
        "format": "csv",
        "sizeBytes": len(content),
    }
    job = app_services.store.create(
        kind=JobKind.IMPORT, dataset="contacts", owner=owner, params=params, job_id=job_id
    )
    app_services.store.start(job.id)
    app_services.store.fail(job.id, error='The file has no column for email. Its columns: "Who".')
    return job


def test_a_failed_import_on_its_columns_offers_mapping_instead_of_retry(page, app_services):
    owner = visitor_of(page, app_services)
    job = failed_on_columns(app_services, owner, "Who,Mail\nEdsger Dijkstra,edsger@example.com\n")
    page.goto(f"{page.base_url}/imports/{job.id}")
    expect(page.get_by_test_id("status-badge")).to_have_text("Failed", timeout=30_000)
    expect(page.get_by_role("button", name="Retry")).to_have_count(0)
    page.get_by_test_id("map-columns").click()
    page.wait_for_url(re.compile(rf".*/imports\?from={job.id}"), timeout=30_000)
    expect(page.get_by_test_id("mapping-table")).to_be_visible(timeout=30_000)
    expect(page.get_by_test_id("mapping-file")).to_have_text("old.csv")
    column_select(page, "name").select_option("Who")
    column_select(page, "email").select_option("Mail")
    page.get_by_test_id("import-button").click()
    page.wait_for_url(re.compile(r".*/imports/[0-9a-f-]{36}$"), timeout=30_000)
    expect(page.get_by_test_id("import-summary")).to_have_text("Created 1 row", timeout=30_000)


def test_an_unknown_job_to_map_says_so_on_the_form(page):
    page.goto(f"{page.base_url}/imports?from=00000000-0000-4000-8000-000000000000")
    expect(page.get_by_test_id("form-error")).to_contain_text("not found", timeout=30_000)
    expect(page.get_by_test_id("inspect-button")).to_be_visible()
