"""The import engine: read a file, validate each row, write the valid ones all at once.

Phase 1 reads and validates, staging valid rows on disk (progress 0-90%). Phase 2 compares
them with the dataset table and writes them by the job's mode in one transaction (90-99%,
see `import_save`). A failure or cancel before phase 2 commits leaves the table exactly as
it was. A dry run stops short of writing and keeps its checked rows for its commit.
The engine knows nothing of HTTP or of where it runs: it gets a job, a database engine,
the data dir, a progress reporter and the limits of a file's contents.
"""

from __future__ import annotations

import contextlib
import csv
import itertools
import logging
import operator
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import Engine

from jobs_ui.datasets import Dataset, registry
from jobs_ui.engines.formats import FileFormat, RawRow, UnreadableFileError, open_reader
from jobs_ui.engines.formulas import neutralise_formula
from jobs_ui.engines.import_save import VALIDATION_SHARE, SaveOutcome, SavePlan, save_rows
from jobs_ui.engines.limits import FileLimits
from jobs_ui.engines.mapping import FieldMapping
from jobs_ui.engines.modes import ImportMode
from jobs_ui.engines.progress import ProgressReporter
from jobs_ui.engines.records import ImportFileError, key_rows_by_field, records
from jobs_ui.engines.rejected_rows import write_rejected_rows
from jobs_ui.engines.row_errors import ProblemGroup, describe_problems, validation_problems
from jobs_ui.engines.staging import ImportStaging
from jobs_ui.files import DataFiles
from jobs_ui.models import Job

log = logging.getLogger(__name__)

__all__ = ["ImportFileError", "run_import"]

ERRORS_IN_RESULT = 100  # problems listed one by one in the result (the report has them all)
SUMMARY_GROUPS = 50  # reasons in the result's errorSummary, largest first
BATCH_ROWS = 1_000  # rows read, validated and staged together; progress is reported per batch


def run_import(
    job: Job,
    *,
    engine: Engine,
    files: DataFiles,
    reporter: ProgressReporter,
    limits: FileLimits | None = None,
) -> dict[str, Any]:
    """Import the job's upload into its dataset; returns the job result. A file past
    `limits` (the defaults when None) fails with a sentence saying which limit.

    A dry run keeps the rows it checked (`DataFiles.checked_rows_path`), so that its commit
    (a job whose params name them as `checked`) saves them without reading the file again."""
    dataset = registry.get(job.dataset)
    mode = ImportMode(job.params.get("mode") or ImportMode.INSERT.value)
    dry_run = bool(job.params.get("dryRun"))
    checked = job.params.get("checked")
    if checked is not None:
        staging = _checked_rows(files, checked, dataset)
        total_rows = int(job.params["totalRows"])
        mapping: FieldMapping = dict(job.params.get("mapping") or {})
    else:
        scratch = files.scratch_path(job.id)
        staging = ImportStaging(scratch, dataset.sql_table, dataset.columns, dataset.key)
    with contextlib.closing(staging):
        if checked is None:
            total_rows, mapping = _read_upload(job, files, dataset, staging, reporter, limits, mode)
            if dry_run:
                staging.keep_copy(files.checked_rows_path(job.id))
        report = files.error_report_path(job.id)
        skipped_rows = SkippedRows([], [])

        def write_report() -> None:
            nonlocal skipped_rows
            skipped_rows = _report_skipped(report, dataset, staging, mapping)
            if staging.skipped_count:
                _keep_rows_to_fix(files.rejected_rows_path(job.id), dataset, staging, mapping)

        mapped = [name for name, column in mapping.items() if column]
        plan = SavePlan(
            job_id=job.id,
            mode=mode,
            mapped=mapped,
            dry_run=dry_run,
            show_stored=bool(job.params.get("showStored", True)),
            attempt=job.attempt,
        )
        try:
            outcome = save_rows(engine, dataset, staging, reporter, plan, write_report)
        except BaseException:
            if dry_run:  # no commit can follow a dry run that did not complete
                files.checked_rows_path(job.id).unlink(missing_ok=True)
            raise
    counts = _counts(outcome, dry_run, total_rows)
    return {
        **counts,
        "mode": mode.value,
        "dryRun": dry_run,
        "totalRows": total_rows,
        "errors": skipped_rows.errors,
        "errorSummary": skipped_rows.summary,
        **({"changes": outcome.changes} if dry_run else {}),
        "fileName": job.params.get("fileName"),
        "mapping": mapping,
    }


def _counts(outcome: SaveOutcome, dry_run: bool, total_rows: int) -> dict[str, int]:
    """The counts the result gives: what was (or, for a dry run, would be) created and updated;
    `importedCount` is what went in (created + updated, as the contract's example reads it)."""
    touched = outcome.created + outcome.updated
    skipped = total_rows - touched - outcome.unchanged
    if dry_run:
        return {
            "wouldCreate": outcome.created,
            "wouldUpdate": outcome.updated,
            "unchangedCount": outcome.unchanged,
            "skippedCount": skipped,
            "importedCount": 0,
        }
    return {
        "createdCount": outcome.created,
        "updatedCount": outcome.updated,
        "unchangedCount": outcome.unchanged,
        "skippedCount": skipped,
        "importedCount": touched,
    }


def _read_upload(
    job: Job,
    files: DataFiles,
    dataset: Dataset,
    staging: ImportStaging,
    reporter: ProgressReporter,
    limits: FileLimits | None,
    mode: ImportMode,
) -> tuple[int, FieldMapping]:
    """Phase 1 over the job's upload: the rows read and the mapping used."""
    upload = files.resolve(job.params["upload"])
    try:
        total_rows, mapping = _validate_file(
            upload,
            FileFormat(job.params["format"]),
            dataset,
            staging,
            reporter,
            limits or FileLimits(),
            job.params.get("mapping"),
            job.params.get("sheet"),
            mode,
        )
    except UnreadableFileError as error:
        raise ImportFileError(str(error)) from error
    if total_rows == 0:
        raise ImportFileError("The file has a header but no data rows.")
    return total_rows, mapping


def _checked_rows(files: DataFiles, checked: str, dataset: Dataset) -> ImportStaging:
    """The rows the dry run checked, as the commit's scratch space: used once (closing it
    deletes them); a commit tried again reads its own copy of the upload instead."""
    kept = files.resolve(checked)
    if not kept.is_file():
        raise ImportFileError(CHECKED_ROWS_GONE)
    return ImportStaging(kept, dataset.sql_table, dataset.columns, dataset.key, reopen=True)


CHECKED_ROWS_GONE = (
    "The rows this dry run checked are no longer stored (they are kept as long as its "
    "files); run the dry run again."
)


def _validate_file(
    upload: Path,
    file_format: FileFormat,
    dataset: Dataset,
    staging: ImportStaging,
    reporter: ProgressReporter,
    limits: FileLimits,
    mapping: FieldMapping | None,
    sheet: str | None,
    mode: ImportMode,
) -> tuple[int, FieldMapping]:
    """Phase 1: every row is validated and either staged or recorded as skipped. Returns
    the rows read and the mapping used (`mapping`, or the one suggested when None).

    An update checks only the fields its mapping feeds: the others are not written, so a
    row is not refused for them."""
    reporter.update(0, "Reading the file", force=True)
    total = 0
    with open_reader(upload, file_format, limits, sheet=sheet) as reader:
        used = key_rows_by_field(reader, file_format, dataset, mapping, mode)
        # Never the key: every row is found by it.
        left_out = frozenset(
            name
            for name in dataset.columns
            if mode is ImportMode.UPDATE and not used.get(name) and name != dataset.key
        )
        model = dataset.row_model_leaving_out(left_out)
        all_text = file_format is FileFormat.CSV
        rows = iter(reader)
        while batch := list(itertools.islice(rows, BATCH_ROWS)):
            said = records(batch, all_text=all_text)
            _validate_batch(batch, said, model, dataset, staging, left_out)
            total += len(batch)
            percent = int(reader.fraction_read() * VALIDATION_SHARE)
            reporter.update(percent, f"Validating rows: {total:,} read", rows=total)
    return total, used


def _validate_batch(
    batch: list[RawRow],
    said: list[dict[str, Any]],
    model: type[BaseModel],
    dataset: Dataset,
    staging: ImportStaging,
    left_out: frozenset[str] = frozenset(),
) -> None:
    """Validate one batch of rows; stage the valid ones, record why the others are skipped.
    Fields `left_out` (not written: see `_validate_file`) are staged as None, unchecked."""
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
            row = validate(_without(record, left_out) if left_out else record)
        except ValidationError as error:
            problems = validation_problems(error, model, record)
            staging.skip(raw.number, record, describe_problems(problems), problems)
            continue
        valid.append((raw.number, *values_of(row)))
    staging.stage_many(valid)


def _without(record: dict[str, Any], left_out: frozenset[str]) -> dict[str, Any]:
    return {name: value for name, value in record.items() if name not in left_out}


def _one_tuple(get: Callable[[Any], Any]) -> Callable[[Any], tuple[Any, ...]]:
    return lambda row: (get(row),)


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


def _keep_rows_to_fix(
    path: Path, dataset: Dataset, staging: ImportStaging, mapping: FieldMapping
) -> None:
    """The skipped rows again, for the grid that fixes them: the mapped fields' values as
    the file gave them (no formula guard: they are shown as text, not opened as a sheet)."""
    fields = [name for name in dataset.columns if mapping.get(name) or name == dataset.key]
    where = [dataset.columns.index(name) for name in fields]
    rows = (
        (row_no, {name: cells[index] for name, index in zip(fields, where, strict=True)})
        for row_no, cells, _reason in staging.skipped_rows()
    )
    write_rejected_rows(path, fields, rows, staging.all_problems())


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
