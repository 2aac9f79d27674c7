"""The import engine: read a file, validate each row, write the valid ones all at once.

Phase 1 reads and validates, staging valid rows on disk (progress 0-90%). Phase 2 writes
them to the dataset table in one transaction, skipping keys that already exist (90-99%).
A failure or cancel before phase 2 commits leaves the table exactly as it was.
The engine knows nothing of HTTP or of where it runs: it gets a job, a database engine,
the data dir and a progress reporter.
"""

from __future__ import annotations

import contextlib
import csv
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Connection, Engine, select, text

from jobs_ui.datasets import Dataset, registry
from jobs_ui.db import WRITE_LOCK_OPTION, insert_many, is_sqlite
from jobs_ui.engines.formats import FileFormat, UnreadableFileError, open_reader
from jobs_ui.engines.progress import ProgressReporter
from jobs_ui.engines.row_errors import describe_validation_error
from jobs_ui.engines.staging import ImportStaging, StagedRow
from jobs_ui.engines.writers import neutralise_formula, restore_neutralised
from jobs_ui.files import DataFiles
from jobs_ui.models import Job

log = logging.getLogger(__name__)

ERRORS_IN_RESULT = 100
WRITE_BATCH = 2_000
PROGRESS_EVERY_ROWS = 1_000
VALIDATION_SHARE = 90  # percent of the bar for phase 1


class ImportFileError(Exception):
    """The file as a whole cannot be imported; the message says why, for a person."""


def error_report_url(job_id: object) -> str:
    return f"/api/import-export/jobs/{job_id}/error-report"


def map_headers(columns: Iterable[str], dataset: Dataset) -> dict[str, str]:
    """File header -> dataset field; unknown headers are ignored, missing required ones fail."""
    mapping: dict[str, str] = {}
    for header in columns:
        field = dataset.column_for_header(header)
        if field is not None and field not in mapping.values():
            mapping[header] = field
    missing = [name for name in dataset.required_columns if name not in mapping.values()]
    if missing:
        expected = ", ".join(dataset.columns)
        raise ImportFileError(
            f"The file has no column for {', '.join(missing)}. "
            f"Expected columns for {dataset.name}: {expected} (letter case does not matter)."
        )
    return mapping


def run_import(
    job: Job, *, engine: Engine, files: DataFiles, reporter: ProgressReporter
) -> dict[str, Any]:
    """Import the job's upload into its dataset; returns the job result."""
    dataset = registry.get(job.dataset)
    upload = files.resolve(job.params["upload"])
    file_format = FileFormat(job.params["format"])
    with contextlib.closing(ImportStaging(files.scratch_path(job.id))) as staging:
        try:
            total_rows = _validate_file(upload, file_format, dataset, staging, reporter)
        except UnreadableFileError as error:
            raise ImportFileError(str(error)) from error
        if total_rows == 0:
            raise ImportFileError("The file has a header but no data rows.")
        report = files.error_report_path(job.id)
        imported, errors = _write_rows(engine, dataset, staging, reporter, report)
    skipped = total_rows - imported
    return {
        "importedCount": imported,
        "skippedCount": skipped,
        "totalRows": total_rows,
        "errors": errors,
        "errorReportUrl": error_report_url(job.id) if skipped else None,
        "fileName": job.params.get("fileName"),
    }


def _validate_file(
    upload: Path,
    file_format: FileFormat,
    dataset: Dataset,
    staging: ImportStaging,
    reporter: ProgressReporter,
) -> int:
    """Phase 1: every row is validated and either staged or recorded as skipped."""
    validate = dataset.row_model.model_validate
    columns = dataset.columns
    key_index = columns.index(dataset.key)
    total = 0
    valid: list[StagedRow] = []  # staged a batch at a time
    records: dict[int, dict[str, Any]] = {}  # what each of them said, for duplicate reports

    def stage_valid() -> None:
        for row_no, earlier in staging.stage_many(valid):
            reason = f"Duplicate {dataset.key}: same as row {earlier} of this file"
            staging.skip(row_no, records[row_no], reason)
        valid.clear()
        records.clear()

    reporter.update(0, "Reading the file", force=True)
    with open_reader(upload, file_format) as reader:
        # A CSV or sheet has one header for every row; each JSON line names its own keys.
        fixed = (
            map_headers(reader.columns, dataset) if file_format is not FileFormat.JSONL else None
        )
        per_keys: dict[tuple[str, ...], dict[str, str]] = {}
        for raw in reader:
            total += 1
            mapping = fixed or _mapping_for_keys(raw.values, dataset, per_keys)
            record = _record(raw.values, mapping)
            if raw.problem:
                staging.skip(raw.number, record, raw.problem)
            else:
                try:
                    row = validate(record)
                except ValidationError as error:
                    staging.skip(raw.number, record, describe_validation_error(error))
                else:
                    values = tuple(getattr(row, name) for name in columns)
                    valid.append((raw.number, values[key_index], values))
                    records[raw.number] = record
            if total % PROGRESS_EVERY_ROWS == 0:
                stage_valid()
                percent = int(reader.fraction_read() * VALIDATION_SHARE)
                reporter.update(percent, f"Validating rows: {total:,} read")
        stage_valid()
    return total


def _mapping_for_keys(
    values: Mapping[str, Any], dataset: Dataset, cache: dict[tuple[str, ...], dict[str, str]]
) -> dict[str, str]:
    """The key -> field mapping of one JSON line (lines usually share a few key sets)."""
    keys = tuple(values)
    mapping = cache.get(keys)
    if mapping is None:
        mapping = {}
        for key in keys:
            field = dataset.column_for_header(key)
            if field is not None and field not in mapping.values():
                mapping[key] = field
        cache[keys] = mapping
    return mapping


def _record(values: Mapping[str, Any], mapping: Mapping[str, str]) -> dict[str, Any]:
    record = {field: values.get(header) for header, field in mapping.items()}
    for field, value in record.items():
        # Only a value our own export neutralised starts with a quote: undo just those.
        if isinstance(value, str) and value[:1] == "'":
            record[field] = restore_neutralised(value)
    return record


def _write_rows(
    engine: Engine,
    dataset: Dataset,
    staging: ImportStaging,
    reporter: ProgressReporter,
    report: Path,
) -> tuple[int, list[dict[str, Any]]]:
    """Phase 2: one transaction; rows whose key is already in the table are skipped.

    The error report is written before the commit, so once rows are kept nothing is left
    that could fail the job. Returns the rows written and the first skipped rows.
    """
    table = dataset.sql_table
    key_column = table.c[dataset.key]
    to_write = staging.staged_count
    written = processed = 0
    reporter.update(VALIDATION_SHARE, f"Saving {to_write:,} valid rows", force=True)
    with (
        _held_if_sqlite(engine, reporter),
        engine.connect().execution_options(**{WRITE_LOCK_OPTION: True}) as connection,
        connection.begin(),
    ):
        _lock_table(connection, dataset)
        for batch in staging.staged_batches(WRITE_BATCH):
            reporter.check_cancelled()
            keys = [key for _row, key, _values in batch]
            existing = set(connection.scalars(select(key_column).where(key_column.in_(keys))))
            fresh = []
            for row_no, key, values in batch:
                if key in existing:
                    reason = f"{dataset.key} {key!r} already exists in {dataset.name}"
                    staging.skip(row_no, dict(zip(dataset.columns, values, strict=True)), reason)
                else:
                    fresh.append(values)
            if fresh:
                insert_many(connection, table, dataset.columns, fresh)
            written += len(fresh)
            processed += len(batch)
            reporter.update(
                VALIDATION_SHARE + (99 - VALIDATION_SHARE) * processed // to_write,
                f"Saving rows: {written:,} of {to_write:,}",
            )
        errors = _write_error_report(report, dataset, staging)
        reporter.check_cancelled()  # last chance: after the commit the rows are kept
    return written, errors


def _held_if_sqlite(
    engine: Engine, reporter: ProgressReporter
) -> contextlib.AbstractContextManager[None]:
    return reporter.writes_held() if is_sqlite(engine) else contextlib.nullcontext()


def _lock_table(connection: Connection, dataset: Dataset) -> None:
    """Serialise imports into one table so two of them cannot both add the same key."""
    if connection.dialect.name == "postgresql":
        table_name = connection.dialect.identifier_preparer.quote(dataset.sql_table.name)
        connection.execute(text(f"LOCK TABLE {table_name} IN SHARE ROW EXCLUSIVE MODE"))
    # SQLite: BEGIN IMMEDIATE (the write-lock option) already holds the only write lock.


def _write_error_report(
    path: Path, dataset: Dataset, staging: ImportStaging
) -> list[dict[str, Any]]:
    """Write every skipped row to a CSV (re-importable once fixed); return the first ones."""
    first: list[dict[str, Any]] = []
    if staging.skipped_count == 0:
        return first
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["row", *dataset.columns, "reason"])
        for row_no, values, reason in staging.skipped_rows():
            cells = [_cell(values.get(name)) for name in dataset.columns]
            writer.writerow([row_no, *cells, reason])
            if len(first) < ERRORS_IN_RESULT:
                first.append({"row": row_no, "message": reason})
    return first


def _cell(value: Any) -> str:
    return "" if value is None else neutralise_formula(str(value))
