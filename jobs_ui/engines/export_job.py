"""The export engine: stream a dataset's rows into a CSV, JSON Lines or XLSX file."""

from __future__ import annotations

import contextlib
import itertools
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Engine, String, false, func, or_, select

from jobs_ui.datasets import Dataset, registry
from jobs_ui.db import select_batches
from jobs_ui.engines.formats import FileFormat
from jobs_ui.engines.progress import ProgressReporter
from jobs_ui.engines.writers import write_rows
from jobs_ui.engines.xlsx_writer import MAX_DATA_ROWS, SheetFullError, too_many_rows_message
from jobs_ui.files import DataFiles
from jobs_ui.models import Job, as_utc

FETCH_BATCH = 5_000

EXTENSIONS = {FileFormat.CSV: "csv", FileFormat.JSONL: "jsonl", FileFormat.XLSX: "xlsx"}


def export_filename(dataset: str, file_format: FileFormat, moment: datetime) -> str:
    """E.g. contacts-2026-01-31-120559.csv: what, when (UTC), and the right extension."""
    return f"{dataset}-{moment.astimezone(UTC):%Y-%m-%d-%H%M%S}.{EXTENSIONS[file_format]}"


def search_condition(dataset: Dataset, needle: str | None) -> ColumnElement[bool] | None:
    """Case-insensitive substring match on any text column; None means every row."""
    if not needle or not needle.strip():
        return None
    wanted = needle.strip().lower()
    text_columns = [
        column
        for name, column in dataset.sql_table.c.items()
        if name in dataset.columns and _is_text(column)
    ]
    if not text_columns:
        return false()
    return or_(*(func.lower(column).contains(wanted, autoescape=True) for column in text_columns))


def _is_text(column: ColumnElement[Any]) -> bool:
    # SQLModel wraps strings in a TypeDecorator (AutoString); look at what it stores as.
    column_type = getattr(column.type, "impl", column.type)
    return isinstance(column_type, String)


def run_export(
    job: Job, *, engine: Engine, files: DataFiles, reporter: ProgressReporter
) -> dict[str, Any]:
    """Write the job's dataset (filtered) to a file in the data dir; returns the job result."""
    dataset = registry.get(job.dataset)
    file_format = FileFormat(job.params["format"])
    condition = search_condition(dataset, job.params.get("filter"))
    file_name = export_filename(dataset.name, file_format, as_utc(job.created_at))
    path = files.export_path(job.id, file_name)
    path.parent.mkdir(parents=True, exist_ok=True)

    table = dataset.sql_table
    columns = [table.c[name] for name in dataset.columns]
    count_query = select(func.count()).select_from(table)
    rows_query = select(*columns).order_by(table.primary_key.columns.values()[0])
    if condition is not None:
        count_query = count_query.where(condition)
        rows_query = rows_query.where(condition)

    reporter.update(0, "Counting rows", force=True)
    with engine.connect() as connection:
        total = connection.scalar(count_query) or 0
        if file_format is FileFormat.XLSX and total > MAX_DATA_ROWS:
            raise SheetFullError(too_many_rows_message(total))  # said now, not at row 1,048,576

        def report(written: int) -> None:
            percent = 99 * written // total if total else 99
            reporter.update(percent, f"Writing rows: {written:,} of {total:,}", rows=written)

        # Closed here, whatever happens: its cursor must not outlive this connection's turn.
        with contextlib.closing(select_batches(connection, rows_query, FETCH_BATCH)) as batches:
            rows = itertools.chain.from_iterable(batches)
            row_count = write_rows(path, file_format, dataset.columns, rows, on_row_batch=report)
    try:
        reporter.check_cancelled()
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return {
        "fileName": file_name,
        "rowCount": row_count,
        "sizeBytes": path.stat().st_size,
        "format": file_format.value,
    }
