"""End to end in Chromium: an import skips rows; they are fixed in the grid, checked as
each cell is left, and imported as a new job that links back (axe-core on the grid)."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.conftest import screenshot
from tests.browser.test_accessibility import blocking_violations
from tests.browser.test_modes_flow import (
    click_to_another_job,
    job_id_of,
    products,
    to_products_mapping,
)

FIX_URL = re.compile(r".*/imports/[0-9a-f-]{36}/fix$")
# Rows 3 and 4 have a bad price, row 5 a blank name.
FILE = (
    "sku,name,price,stock\nA-1,Bolt,0.35,100\nA-2,Nut,cheap,500\nA-3,Washer,n/a,900\nA-4,,0.20,50\n"
)


def cell(page, row: int, field: str):
    return page.get_by_role("textbox", name=f"Row {row}, {field}")


def test_skipped_rows_fixed_in_the_grid_and_imported(page, tmp_path, app_services):
    upload = tmp_path / "week.csv"
    upload.write_text(FILE)
    to_products_mapping(page, upload)
    page.get_by_test_id("import-button").click()
    expect(page.get_by_test_id("import-summary")).to_have_text(
        "Created 1 row, skipped 3", timeout=30_000
    )
    first = job_id_of(page)

    page.get_by_test_id("fix-rows-link").click()
    page.wait_for_url(FIX_URL, timeout=30_000)
    expect(page.get_by_test_id("fix-row")).to_have_count(3, timeout=30_000)
    expect(page.get_by_test_id("still-wrong")).to_have_text("3 of 3 rows still wrong")
    expect(cell(page, 3, "price")).to_have_attribute("aria-invalid", "true")
    expect(cell(page, 3, "price")).to_have_value("cheap")
    assert blocking_violations(page) == []

    # Fix two cells: each is checked as it is left.
    cell(page, 3, "price").fill("0.12")
    cell(page, 3, "price").press("Tab")
    expect(page.get_by_test_id("still-wrong")).to_have_text("2 of 3 rows still wrong")
    expect(cell(page, 3, "price")).to_have_attribute("aria-invalid", "false")
    cell(page, 5, "name").fill("Spring")
    cell(page, 5, "name").press("Tab")
    expect(page.get_by_test_id("still-wrong")).to_have_text("1 of 3 rows still wrong")
    # A fix that is still wrong says so, in its cell.
    cell(page, 4, "price").fill("-1")
    cell(page, 4, "price").press("Tab")
    expect(cell(page, 4, "price")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_test_id("still-wrong")).to_have_text("1 of 3 rows still wrong")
    # The filter shows one reason's rows only.
    page.get_by_test_id("reason-filter").select_option(index=2)
    expect(page.get_by_test_id("fix-row")).to_have_count(1)
    page.get_by_test_id("reason-filter").select_option("all")
    expect(page.get_by_test_id("fix-row")).to_have_count(3)
    expect(cell(page, 3, "price")).to_have_value("0.12")  # the edit outlives the filter
    screenshot(page, "fix-rows")

    fix = click_to_another_job(page, page.get_by_test_id("import-fixed-rows"))
    assert app_services.store.get(fix).fix_of == first
    expect(page.get_by_test_id("import-summary")).to_have_text(
        "Created 2 rows, skipped 1", timeout=30_000
    )
    assert sorted(products(app_services)) == ["A-1", "A-2", "A-4"]
    assert products(app_services)["A-4"][0] == "Spring"
    expect(page.get_by_test_id("fix-of-note")).to_be_visible()
    page.get_by_test_id("fix-of-note-link").click()
    expect(page.get_by_test_id("fixed-in-note")).to_be_visible(timeout=30_000)
