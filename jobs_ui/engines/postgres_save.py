"""Bringing an import's staged rows into Postgres, next to the dataset table.

The rows go into a temporary table with COPY (the fastest way into Postgres); Postgres itself
then compares them with the table (see `row_sql`). Everything runs in the caller's transaction:
the temporary table goes at its end, and nothing reaches the dataset table unless it commits.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection

from jobs_ui.datasets import Dataset
from jobs_ui.engines.row_errors import Problem
from jobs_ui.engines.staging import ImportStaging

COPY_BATCH = 5_000  # staged rows read per batch; progress is reported after each
SKIPPED_BATCH = 5_000  # rows skipped for their key, fetched per round trip
TEMPORARY_TABLE = "jobs_ui_import_rows"

Advance = Callable[[int], None]  # rows copied since the last call


def copy_to_temporary(
    connection: Connection, dataset: Dataset, staging: ImportStaging, advance: Advance
) -> str:
    """COPY the staged rows into a temporary table shaped like the dataset's (plus the row
    number, indexed by key); returns its name."""
    quote = connection.dialect.identifier_preparer.quote
    target = quote(dataset.sql_table.name)
    names = ", ".join(quote(name) for name in dataset.columns)
    connection.exec_driver_sql(
        f"CREATE TEMPORARY TABLE {TEMPORARY_TABLE} ON COMMIT DROP AS "
        f"SELECT 0::bigint AS _row_no, {names} FROM {target} WITH NO DATA"
    )
    driver = connection.connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor:
        with cursor.copy(f"COPY {TEMPORARY_TABLE} (_row_no, {names}) FROM STDIN") as copy:
            for batch in staging.staged_batches(COPY_BATCH):
                for row_no, values in batch:
                    copy.write_row((row_no, *values))
                advance(len(batch))
        cursor.execute(f"CREATE UNIQUE INDEX ON {TEMPORARY_TABLE} ({quote(dataset.key)})")
        cursor.execute(f"ANALYZE {TEMPORARY_TABLE}")
    return TEMPORARY_TABLE


def skip_by_key(
    connection: Connection,
    dataset: Dataset,
    staging: ImportStaging,
    *,
    held: bool,
    reason: Callable[[Any], str],
    problem: str,
) -> int:
    """Record in `staging` as skipped, and take out of the temporary table, each row whose key
    the dataset table holds (`held`) or does not hold; returns how many."""
    quote = connection.dialect.identifier_preparer.quote
    target = quote(dataset.sql_table.name)
    key = quote(dataset.key)
    found = "EXISTS" if held else "NOT EXISTS"
    condition = f"{found} (SELECT 1 FROM {target} AS t WHERE t.{key} = s.{key})"
    names = ", ".join(f"s.{quote(name)}" for name in dataset.columns)
    key_index = dataset.columns.index(dataset.key)
    driver = connection.connection.driver_connection
    assert driver is not None
    # A server-side cursor: re-importing a large file finds every one of its keys.
    with driver.cursor(name="jobs_ui_skipped_keys") as cursor:
        cursor.execute(
            f"SELECT s._row_no, {names} FROM {TEMPORARY_TABLE} AS s WHERE {condition} "
            "ORDER BY s._row_no"
        )
        while rows := cursor.fetchmany(SKIPPED_BATCH):
            for row_no, *values in rows:
                record = dict(zip(dataset.columns, values, strict=True))
                key_value = values[key_index]
                said = reason(key_value)
                staging.skip(
                    row_no, record, said, [Problem(dataset.key, problem, str(key_value), said)]
                )
    moved = connection.exec_driver_sql(
        f"DELETE FROM {TEMPORARY_TABLE} AS s WHERE {condition}"
    ).rowcount
    staging.staged_count -= moved
    return int(moved)
