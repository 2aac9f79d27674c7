"""Saving an import's staged rows into a Postgres dataset table.

The rows go into a temporary table with COPY (the fastest way into Postgres), then Postgres
itself finds the keys the table already holds and inserts the rest with one INSERT ... SELECT.
Everything runs in the caller's transaction: the temporary table goes at its end, and nothing
reaches the dataset table unless it commits.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection

from jobs_ui.datasets import Dataset
from jobs_ui.engines.row_errors import Problem
from jobs_ui.engines.staging import ImportStaging

COPY_BATCH = 5_000  # staged rows read per batch; progress is reported after each
SKIPPED_BATCH = 5_000  # rows whose key exists, fetched per round trip
TEMPORARY_TABLE = "jobs_ui_import_rows"

Advance = Callable[[int, int], None]  # (rows processed, rows written) since the last call;
# each staged row is processed twice: copied, then inserted or skipped


def save_through_copy(
    connection: Connection,
    dataset: Dataset,
    staging: ImportStaging,
    advance: Advance,
    existing_reason: Callable[[Any], str],
    existing_problem: str,
) -> int:
    """Copy the staged rows into `dataset`'s table, skipping (and recording in `staging`)
    rows whose key it already holds; returns how many rows were written."""
    quote = connection.dialect.identifier_preparer.quote
    target = quote(dataset.sql_table.name)
    names = ", ".join(quote(name) for name in dataset.columns)
    key = quote(dataset.key)
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
                advance(len(batch), 0)
        cursor.execute(f"CREATE INDEX ON {TEMPORARY_TABLE} ({key})")
    existing = f"EXISTS (SELECT 1 FROM {target} AS t WHERE t.{key} = s.{key})"
    _skip_existing(connection, dataset, staging, existing, existing_reason, existing_problem)
    written = connection.exec_driver_sql(
        f"INSERT INTO {target} ({names}) SELECT {names} FROM {TEMPORARY_TABLE} AS s "
        f"WHERE NOT {existing} ORDER BY s._row_no"
    ).rowcount
    advance(staging.staged_count, written)  # the second pass over the rows
    return written


def _skip_existing(
    connection: Connection,
    dataset: Dataset,
    staging: ImportStaging,
    existing: str,
    reason: Callable[[Any], str],
    problem: str,
) -> None:
    """Record each staged row whose key the table already holds, a batch at a time."""
    quote = connection.dialect.identifier_preparer.quote
    names = ", ".join(f"s.{quote(name)}" for name in dataset.columns)
    key_index = dataset.columns.index(dataset.key)
    driver = connection.connection.driver_connection
    assert driver is not None
    # A server-side cursor: re-importing a large file finds every one of its keys.
    with driver.cursor(name="jobs_ui_existing_keys") as cursor:
        cursor.execute(
            f"SELECT s._row_no, {names} FROM {TEMPORARY_TABLE} AS s WHERE {existing} "
            "ORDER BY s._row_no"
        )
        while rows := cursor.fetchmany(SKIPPED_BATCH):
            for row_no, *values in rows:
                record = dict(zip(dataset.columns, values, strict=True))
                key = values[key_index]
                said = reason(key)
                staging.skip(row_no, record, said, [Problem(dataset.key, problem, str(key), said)])
