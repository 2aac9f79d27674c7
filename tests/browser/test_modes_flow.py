"""End to end in Chromium: this week's price list as an update, checked by a dry run first,
imported from the dry run's page, then undone from the import's page (axe-core on the dry
run's page and the undo's confirmation)."""

from __future__ import annotations

import re
import uuid
from decimal import Decimal
from pathlib import Path

from playwright.sync_api import expect
from sqlmodel import Session, select

from jobs_ui.datasets.shipped import Product
from tests.browser.conftest import screenshot
from tests.browser.test_accessibility import blocking_violations
from tests.browser.test_mapping_flow import column_select

JOB_URL = re.compile(r".*/imports/[0-9a-f-]{36}$")
STORED = "sku,name,price,stock\nA-1,Bolt,0.35,100\nA-2,Nut,0.10,500\nA-3,Washer,0.05,900\n"
# A-1 unchanged, A-2 a new price, A-3 new stock, A-4 new
THIS_WEEK = "SKU,Price\nA-1,0.35\nA-2,0.12\nA-3,0.05\n"


def products(app_services) -> dict[str, tuple[str, Decimal, int]]:
    with Session(app_services.engine) as session:
        found = session.exec(select(Product)).all()
        return {p.sku: (p.name, Decimal(p.price).quantize(Decimal("0.01")), p.stock) for p in found}


def to_products_mapping(page, path: Path) -> None:
    page.goto(page.base_url + "/imports")
    expect(page.get_by_text("Drop a file here")).to_be_visible(timeout=30_000)
    page.get_by_role("combobox", name="Dataset").click()
    page.get_by_role("option", name="products").click()
    page.set_input_files("input[type=file]", str(path))
    page.get_by_test_id("inspect-button").click()
    expect(page.get_by_test_id("mapping-table")).to_be_visible(timeout=30_000)


def job_id_of(page) -> uuid.UUID:
    return uuid.UUID(page.url.rsplit("/", 1)[-1])


def click_to_another_job(page, button) -> uuid.UUID:
    """Click a button that starts a job; its page (not the one the click was on)."""
    before = page.url
    button.click()
    page.wait_for_url(lambda url: url != before and JOB_URL.match(url), timeout=30_000)
    return job_id_of(page)


def test_an_update_checked_by_a_dry_run_then_imported_then_undone(page, tmp_path, app_services):
    stored = tmp_path / "stored.csv"
    stored.write_text(STORED)
    to_products_mapping(page, stored)
    page.get_by_test_id("import-button").click()
    page.wait_for_url(JOB_URL, timeout=30_000)
    expect(page.get_by_test_id("import-summary")).to_have_text("Created 3 rows", timeout=30_000)
    before = products(app_services)

    week = tmp_path / "prices.csv"
    week.write_text(THIS_WEEK)
    to_products_mapping(page, week)
    # Only update mode can leave name and stock unmapped: the others need them for new rows.
    expect(page.get_by_test_id("import-button")).to_be_disabled()
    page.get_by_test_id("mode-select").select_option("update")
    expect(page.get_by_test_id("mode-note")).to_contain_text("Only the key is required")
    expect(column_select(page, "sku")).to_have_value("SKU")
    expect(column_select(page, "price")).to_have_value("Price")
    expect(page.get_by_test_id("import-blocker")).to_have_count(0)
    page.get_by_test_id("dry-run-checkbox").click()
    expect(page.get_by_test_id("import-button")).to_have_text("Dry run")
    page.get_by_test_id("import-button").click()
    page.wait_for_url(JOB_URL, timeout=30_000)
    expect(page.get_by_test_id("import-summary")).to_have_text(
        "Would update 1; 2 unchanged, 0 skipped", timeout=30_000
    )
    expect(page.get_by_test_id("change-row")).to_have_count(1)
    expect(page.get_by_test_id("change-row")).to_contain_text("A-2")
    expect(page.get_by_test_id("undo-button")).to_have_count(0)  # a dry run has no undo
    assert products(app_services) == before
    assert blocking_violations(page) == []
    screenshot(page, "dry-run")
    dry_run = job_id_of(page)

    commit = click_to_another_job(page, page.get_by_test_id("commit-button"))
    assert app_services.store.get(commit).commit_of == dry_run
    expect(page.get_by_test_id("import-summary")).to_have_text(
        "Updated 1, unchanged 2, skipped 0", timeout=30_000
    )
    expect(page.get_by_test_id("commit-of-note")).to_be_visible()
    after = products(app_services)
    assert after["A-2"] == ("Nut", Decimal("0.12"), 500)  # name and stock kept as stored

    page.get_by_test_id("undo-button").click()
    expect(page.get_by_test_id("undo-what")).to_have_text(
        "Undoing gives the 1 row it updated their values from before it. Rows changed since "
        "the import are left as they are."
    )
    assert blocking_violations(page) == []
    screenshot(page, "undo-confirmation")
    undo = click_to_another_job(page, page.get_by_test_id("undo-confirm"))
    assert app_services.store.get(undo).undo_of == commit
    expect(page.get_by_test_id("import-summary")).to_have_text(
        "Deleted 0, restored 1", timeout=30_000
    )
    expect(page.get_by_test_id("undo-of-note")).to_be_visible()
    assert products(app_services) == before
    page.get_by_test_id("undo-of-note-link").click()
    expect(page.get_by_test_id("undone-note")).to_be_visible(timeout=30_000)
    expect(page.get_by_test_id("undo-button")).to_have_count(0)
