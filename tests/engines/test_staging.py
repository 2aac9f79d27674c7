"""Import scratch space: repeated keys found after staging, values kept as the table types them."""

from __future__ import annotations

import contextlib
import sqlite3
from decimal import Decimal

from jobs_ui.datasets import registry
from jobs_ui.engines.staging import ImportStaging

PRODUCTS = registry.get("products")


def staging_for_products(tmp_path):
    return ImportStaging(tmp_path / "s.sqlite", PRODUCTS.sql_table, PRODUCTS.columns, "sku")


def product(sku, price="1.50"):
    return (sku, f"Product {sku}", Decimal(price), 3)


def test_repeated_keys_are_reported_with_the_first_row_that_had_them(tmp_path):
    with contextlib.closing(staging_for_products(tmp_path)) as staging:
        staging.stage_many([(2, *product("a")), (3, *product("b"))])
        # across batches (a) and within one (c twice)
        staging.stage_many([(4, *product("a")), (5, *product("c")), (6, *product("c", "9.99"))])
        assert staging.staged_count == 5

        moved = staging.skip_repeated_keys("Duplicate sku: same as row ", " of this file", "dup")

        assert moved == 2
        assert (staging.staged_count, staging.skipped_count) == (3, 2)
        skipped = list(staging.skipped_rows())
        assert [(row, reason) for row, _cells, reason in skipped] == [
            (4, "Duplicate sku: same as row 2 of this file"),
            (6, "Duplicate sku: same as row 5 of this file"),
        ]
        assert skipped[1][1] == ("c", "Product c", "9.99", "3")  # the cells, as text
        staged = [row for batch in staging.staged_batches(2) for row in batch]
        assert [row_no for row_no, _values in staged] == [2, 3, 5]


def test_staged_values_come_back_as_python_gave_them(tmp_path):
    with contextlib.closing(staging_for_products(tmp_path)) as staging:
        staging.stage_many([(2, *product("a", "12.34"))])
        ((row_no, values),) = next(staging.staged_batches(10))
    assert (row_no, values) == (2, ("a", "Product a", Decimal("12.34"), 3))


def test_attached_to_a_sqlite_database_it_skips_rows_by_whether_the_table_holds_their_key(
    tmp_path,
):
    database = sqlite3.connect(tmp_path / "data.sqlite", isolation_level=None)
    database.execute(
        "CREATE TABLE products (id INTEGER PRIMARY KEY, sku TEXT UNIQUE, name TEXT, "
        "price NUMERIC, stock INTEGER)"
    )
    database.execute("INSERT INTO products (sku, name, price, stock) VALUES ('b', 'old', 1, 1)")
    with contextlib.closing(staging_for_products(tmp_path)) as staging:
        staging.stage_many([(2, *product("a")), (3, *product("b")), (4, *product("c"))])
        with staging.attached(database):
            held = staging.skip_by_key(
                PRODUCTS.sql_table,
                held=True,
                reason_prefix="sku ",
                reason_suffix=" exists",
                problem="exists",
            )
            assert (held, staging.staged_count) == (1, 2)
            lacking = staging.skip_by_key(
                PRODUCTS.sql_table, held=False, reason_prefix="no ", reason_suffix="", problem="no"
            )
            reasons = [(row, reason) for row, _cells, reason in staging.skipped_rows()]
            left = [row for batch in staging.staged_batches(10) for row, _values in batch]
    assert (lacking, staging.staged_count, staging.skipped_count) == (2, 0, 3)
    assert reasons == [(2, "no 'a'"), (3, "sku 'b' exists"), (4, "no 'c'")]
    assert left == []
    assert database.execute("PRAGMA database_list").fetchall()[-1][1] == "main"  # detached


def test_a_kept_copy_reopens_with_its_rows_and_counts(tmp_path):
    with contextlib.closing(staging_for_products(tmp_path)) as staging:
        staging.stage_many([(2, *product("a")), (3, *product("b"))])
        staging.skip(4, {"sku": "x"}, "why")
        staging.keep_copy(tmp_path / "kept.sqlite")
        staging.stage_many([(5, *product("c"))])  # after the copy: not in it
    kept = ImportStaging(
        tmp_path / "kept.sqlite", PRODUCTS.sql_table, PRODUCTS.columns, "sku", reopen=True
    )
    with contextlib.closing(kept):
        assert (kept.staged_count, kept.skipped_count) == (2, 1)
        assert [row for batch in kept.staged_batches(10) for row, _ in batch] == [2, 3]


def test_closing_removes_the_scratch_file(tmp_path):
    staging = staging_for_products(tmp_path)
    staging.skip(7, {"sku": "x", "stock": 5}, "why")
    assert list(staging.skipped_rows()) == [(7, ("x", None, None, "5"), "why")]
    staging.close()
    assert not staging.path.exists()


def test_an_error_while_attached_still_detaches_and_keeps_the_error(tmp_path):
    database = sqlite3.connect(tmp_path / "data.sqlite", isolation_level=None)
    with contextlib.closing(staging_for_products(tmp_path)) as staging:
        for row_no in (2, 3):
            staging.skip(row_no, {"sku": f"s{row_no}"}, "why")
        try:
            with staging.attached(database):
                for _row in staging.skipped_rows():  # a cursor left open mid-way
                    raise OSError("disk full")
        except OSError as error:
            assert str(error) == "disk full"  # not hidden by a failed DETACH
        names = [row[1] for row in database.execute("PRAGMA database_list")]
    assert names == ["main"]
