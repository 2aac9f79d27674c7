"""The import engine: read a file, validate each row, write the valid ones all at once.

Phase 1 reads and validates, staging valid rows on disk (progress 0-90%). Phase 2 writes
them to the dataset table in one transaction, skipping keys that already exist (90-99%).
A failure or cancel before phase 2 commits leaves the table exactly as it was.
The engine knows nothing of HTTP or of where it runs: it gets a job, a database engine,
the data dir, a progress reporter and the limits of a file's contents.
"""

from __future__ import annotations

import contextlib
import csv
import itertools
import logging
import operator
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Connection, Engine, text

from jobs_ui.datasets import Dataset, registry
from jobs_ui.db import WRITE_LOCK_OPTION, is_sqlite
from jobs_ui.engines.formats import FileFormat, RawRow, UnreadableFileError, open_reader
from jobs_ui.engines.formulas import neutralise_formula
from jobs_ui.engines.limits import FileLimits
from jobs_ui.engines.mapping import FieldMapping
from jobs_ui.engines.postgres_save import save_through_copy
from jobs_ui.engines.progress import ProgressReporter
from jobs_ui.engines.records import ImportFileError, key_rows_by_field, records
from jobs_ui.engines.row_errors import ProblemGroup, describe_problems, validation_problems
from jobs_ui.engines.staging import ImportStaging, sql_quote
from jobs_ui.files import DataFiles
from jobs_ui.models import Job

log = logging.getLogger(__name__)

__all__ = ["ImportFileError", "run_import"]

ERRORS_IN_RESULT = 100  # problems listed one by one in the result (the report has them all)
SUMMARY_GROUPS = 50  # reasons in the result's errorSummary, largest first
BATCH_ROWS = 1_000  # rows read, validated and staged together; progress is reported per batch
COPY_PART_ROWS = 100_000  # file rows per INSERT ... SELECT on SQLite, between progress reports
VALIDATION_SHARE = 90  # percent of the bar for phase 1


def run_import(
    job: Job,
    *,
    engine: Engine,
    files: DataFiles,
    reporter: ProgressReporter,
    limits: FileLimits | None = None,
) -> dict[str, Any]:
    """Import the job's upload into its dataset; returns the job result. A file past
    `limits` (the defaults when None) fails with a sentence saying which limit."""
    dataset = registry.get(job.dataset)
    upload = files.resolve(job.params["upload"])
    file_format = FileFormat(job.params["format"])
    scratch = files.scratch_path(job.id)
    staging = ImportStaging(scratch, dataset.sql_table, dataset.columns, dataset.key)
    with contextlib.closing(staging):
        try:
            total_rows, mapping = _validate_file(
                upload,
                file_format,
                dataset,
                staging,
                reporter,
                limits or FileLimits(),
                job.params.get("mapping"),
                job.params.get("sheet"),
            )
        except UnreadableFileError as error:
            raise ImportFileError(str(error)) from error
        if total_rows == 0:
            raise ImportFileError("The file has a header but no data rows.")
        report = files.error_report_path(job.id)
        imported, skipped_rows = _save(engine, dataset, staging, reporter, report, mapping)
    return {
        "importedCount": imported,
        "skippedCount": total_rows - imported,
        "totalRows": total_rows,
        "errors": skipped_rows.errors,
        "errorSummary": skipped_rows.summary,
        "fileName": job.params.get("fileName"),
        "mapping": mapping,
    }


def _validate_file(
    upload: Path,
    file_format: FileFormat,
    dataset: Dataset,
    staging: ImportStaging,
    reporter: ProgressReporter,
    limits: FileLimits,
    mapping: FieldMapping | None,
    sheet: str | None,
) -> tuple[int, FieldMapping]:
    """Phase 1: every row is validated and either staged or recorded as skipped. Returns
    the rows read and the mapping used (`mapping`, or the one suggested when None)."""
    reporter.update(0, "Reading the file", force=True)
    total = 0
    with open_reader(upload, file_format, limits, sheet=sheet) as reader:
        used = key_rows_by_field(reader, file_format, dataset, mapping)
        all_text = file_format is FileFormat.CSV
        rows = iter(reader)
        while batch := list(itertools.islice(rows, BATCH_ROWS)):
            _validate_batch(batch, records(batch, all_text=all_text), dataset, staging)
            total += len(batch)
            percent = int(reader.fraction_read() * VALIDATION_SHARE)
            reporter.update(percent, f"Validating rows: {total:,} read", rows=total)
    return total, used


def _validate_batch(
    batch: list[RawRow], said: list[dict[str, Any]], dataset: Dataset, staging: ImportStaging
) -> None:
    """Validate one batch of rows; stage the valid ones, record why the others are skipped."""
    model = dataset.row_model
    validate = model.__pydantic_validator__.validate_python
    values_of: Callable[[Any], tuple[Any, ...]] = operator.attrgetter(*dataset.columns)
    if len(dataset.columns) == 1:  # attrgetter of one name returns the bare value
        values_of = _one_tuple(values_of)
    valid: list[tuple[Any, ...]] = []  # (row number, *values)
    for raw, record in zip(batch, said, strict=True):
        if raw.problem:
            staging.skip(raw.number, record, raw.problem)
            continue
        try:
            row = validate(record)
        except ValidationError as error:
            problems = validation_problems(error, model, record)
            staging.skip(raw.number, record, describe_problems(problems), problems)
            continue
        valid.append((raw.number, *values_of(row)))
    staging.stage_many(valid)


def _one_tuple(get: Callable[[Any], Any]) -> Callable[[Any], tuple[Any, ...]]:
    return lambda row: (get(row),)


def _save(
    engine: Engine,
    dataset: Dataset,
    staging: ImportStaging,
    reporter: ProgressReporter,
    report: Path,
    mapping: FieldMapping,
) -> tuple[int, SkippedRows]:
    """Phase 2: one transaction; rows whose key is already in the table are skipped.

    The error report is written before the commit, so once rows are kept nothing is left
    that could fail the job. Returns the rows written and what was skipped, and why.
    """
    to_write = staging.staged_count
    reporter.update(VALIDATION_SHARE, f"Saving {to_write:,} valid rows", force=True)
    progress = _SaveProgress(reporter, to_write)
    with (
        _held_if_sqlite(engine, reporter),
        engine.connect().execution_options(**{WRITE_LOCK_OPTION: True}) as connection,
    ):
        if is_sqlite(engine):
            # The scratch file is SQLite too: let SQLite copy the rows across by itself.
            driver = connection.connection.driver_connection
            assert isinstance(driver, sqlite3.Connection)  # is_sqlite: the stdlib driver
            try:
                with (
                    staging.attached(driver),
                    connection.begin(),
                ):
                    written = _save_within_sqlite(dataset, staging, progress)
                    skipped = _report_skipped(report, dataset, staging, mapping)
                    reporter.check_cancelled()  # last chance: after the commit rows are kept
            except BaseException:
                # Never hand the pool a connection that may still have the scratch attached.
                connection.invalidate()
                raise
        else:
            progress.passes = 2  # COPY into a temporary table, then INSERT ... SELECT
            with connection.begin():
                _lock_table(connection, dataset)
                _skip_repeated_keys(dataset, staging)
                progress.to_write = staging.staged_count  # the repeats will not be written
                written = save_through_copy(
                    connection,
                    dataset,
                    staging,
                    progress.advance,
                    _exists_reason(dataset),
                    _exists_problem(dataset),
                )
                skipped = _report_skipped(report, dataset, staging, mapping)
                reporter.check_cancelled()
    return written, skipped


class _SaveProgress:
    """Phase 2's share of the bar, and a chance to cancel, after each part is saved."""

    def __init__(self, reporter: ProgressReporter, to_write: int) -> None:
        self._reporter = reporter
        self.to_write = to_write
        self.passes = 1  # how many times the save goes over every row
        self.processed = self.written = 0

    def advance(self, processed: int, written: int) -> None:
        self.processed += processed
        self.written += written
        work = max(self.to_write * self.passes, 1)
        share = (99 - VALIDATION_SHARE) * min(self.processed, work) // work
        message = f"Saving rows: {self.written:,} of {self.to_write:,}"
        self._reporter.update(VALIDATION_SHARE + share, message, rows=self.processed)
        self._reporter.check_cancelled()


def _save_within_sqlite(dataset: Dataset, staging: ImportStaging, progress: _SaveProgress) -> int:
    """SQLite: INSERT ... SELECT over the attached scratch file, in parts for progress.

    Keys repeated within the file are looked for only once the table's unique key refuses a
    row (most files repeat none, and looking costs an index over every staged row); the part
    is then tried again. A row refused for any other reason fails the import: nothing is kept.
    """
    table = dataset.sql_table
    had_rows = staging.table_has_rows(table)
    existing = (
        staging.skip_existing(
            table, _exists_prefix(dataset), _exists_suffix(dataset), _exists_problem(dataset)
        )
        if had_rows
        else 0
    )
    progress.advance(existing, 0)
    staged = staging.staged_count
    repeated: int | None = None  # how many, once looked for
    first, last = staging.row_number_range()
    for start in range(first, last + 1, COPY_PART_ROWS):
        end = min(start + COPY_PART_ROWS - 1, last)
        try:
            written = staging.copy_new(table, start, end, only_new_keys=had_rows)
        except sqlite3.IntegrityError:
            if repeated is not None:
                raise
            repeated = _skip_repeated_keys(dataset, staging)
            written = staging.copy_new(table, start, end, only_new_keys=had_rows)
        progress.advance(written, written)
    # Passed over as already in the table, but brought by an earlier part: repeats as well.
    if repeated is None and staged - existing - progress.written:
        repeated = _skip_repeated_keys(dataset, staging)
    if staged - existing - progress.written != (repeated or 0):
        raise RuntimeError(f"{dataset.name}: rows were neither saved nor reported as skipped")
    return progress.written


def _skip_repeated_keys(dataset: Dataset, staging: ImportStaging) -> int:
    key = dataset.key
    return staging.skip_repeated_keys(
        f"Duplicate {key}: same as row ",
        " of this file",
        f"Duplicate {key}: the same {key} is in an earlier row of this file",
    )


def _exists_problem(dataset: Dataset) -> str:
    return f"{dataset.key}: already exists in {dataset.name}"


def _exists_reason(dataset: Dataset) -> Callable[[Any], str]:
    return lambda key: _exists_prefix(dataset) + sql_quote(key) + _exists_suffix(dataset)


def _exists_prefix(dataset: Dataset) -> str:
    return f"{dataset.key} "


def _exists_suffix(dataset: Dataset) -> str:
    return f" already exists in {dataset.name}"


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


@dataclass(frozen=True)
class SkippedRows:
    """What the result says of the skipped rows: the first problems one by one, each with
    its field, the file's column and the offending value, and one entry per reason."""

    errors: list[dict[str, Any]]
    summary: list[dict[str, Any]]


def _report_skipped(
    path: Path, dataset: Dataset, staging: ImportStaging, mapping: FieldMapping
) -> SkippedRows:
    """Write every skipped row to a CSV (re-importable once fixed) and sum up why."""
    if staging.skipped_count == 0:
        return SkippedRows([], [])
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["row", *dataset.columns, "reason"])
        for row_no, cells, reason in staging.skipped_rows():
            writer.writerow([row_no, *map(_cell, cells), reason])
    errors = [
        {
            "row": row,
            "field": problem.field,
            "column": mapping.get(problem.field) if problem.field else None,
            "value": problem.value,
            "message": problem.sentence,
        }
        for row, problem in staging.first_problems(ERRORS_IN_RESULT)
    ]
    groups = staging.problem_groups(limit=SUMMARY_GROUPS)
    return SkippedRows(errors, [_group_json(group, mapping) for group in groups])


def _group_json(group: ProblemGroup, mapping: FieldMapping) -> dict[str, Any]:
    return {
        "field": group.field,
        "column": mapping.get(group.field) if group.field else None,
        "message": group.message,
        "count": group.count,
        "rows": group.rows,
        "examples": group.examples,
    }


def _cell(value: str | None) -> str:
    return "" if value is None else neutralise_formula(value)
