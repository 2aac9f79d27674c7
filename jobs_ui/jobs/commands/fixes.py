"""Commands on the rows an import skipped: read them a page at a time, check edited ones,
and import the fixed ones as a new job.

Each works from the import's stored rows to fix (`jobs_ui.engines.rejected_rows`), never
from its upload; each is for the import's owner (and `jobs:admin`), as its error report is.
The new job (201, `fixOf` set) imports the edited rows alone, with the first import's mode
and mapping, from a JSON Lines file of them written into its own upload folder (one object
per row, by field: no header or delimiter to guess): it is then an import like any other
(its progress, its report, its retry, its undo).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

from jobs_ui.access.hooks import Action
from jobs_ui.access.principal import Principal
from jobs_ui.datasets import Dataset
from jobs_ui.engines.mapping import FieldMapping
from jobs_ui.engines.modes import ImportMode
from jobs_ui.engines.rejected_rows import RejectedPage, RejectedRows
from jobs_ui.engines.row_check import EditedRow, check_rows, kept_row_conflicts
from jobs_ui.engines.row_errors import Problem
from jobs_ui.jobs.commands.base import CommandError, CreatedJob
from jobs_ui.jobs.commands.outcomes import OutcomeCommands
from jobs_ui.models import Job, JobKind, JobStatus

MAX_PAGE_ROWS = 500  # rows per page read, and per check
MAX_FIXED_ROWS = 10_000  # rows per import of fixed rows
# Past any file's rows (a sheet has 1,048,576), and within the stores' 64-bit integers. Not a
# schema bound: a generator would then send numbers millions of digits long to probe it.
MAX_ROW_NUMBER = 2**31 - 1
ROWS_TO_FIX_GONE = (
    "The skipped rows of this import are no longer stored: they were kept as long as its "
    "files, which have been deleted. Fix the rows in the file and import it again."
)
UNREADABLE = (
    "The stored copy of this import's skipped rows cannot be read. Download the error "
    "report, fix the rows in it and import it."
)
NO_ROWS_TO_FIX = "This import skipped no rows, so there is nothing to fix."
NOT_KEPT = (
    "This import's skipped rows were not kept for fixing (it ran before they were); "
    "download its error report instead."
)


class FixCommands(OutcomeCommands):
    """Reading, checking and importing an import's skipped rows, fixed."""

    def rejected_rows(
        self,
        principal: Principal,
        job_id: uuid.UUID,
        *,
        offset: int = 0,
        limit: int = 100,
        reason: str | None = None,
    ) -> tuple[list[str], RejectedPage]:
        """The import's fields in the grid, and a page of its skipped rows in file order."""
        job = self._import_with_rows_to_fix(principal, job_id)
        with self._rows_to_fix(job) as stored:
            return stored.fields, stored.page(
                offset=offset, limit=min(limit, MAX_PAGE_ROWS), reason=reason
            )

    def rejected_reasons(self, principal: Principal, job_id: uuid.UUID) -> list[tuple[str, int]]:
        """Why rows were skipped, with how many each (for the filter by reason)."""
        job = self._import_with_rows_to_fix(principal, job_id)
        with self._rows_to_fix(job) as stored:
            return stored.reasons()

    def fixes_of(self, principal: Principal, job_id: uuid.UUID) -> list[Job]:
        """The imports of this import's fixed rows (the first twenty), oldest first."""
        job = self.visible_job(principal, job_id)
        return self.lineage.fixes_of(job.id)

    def check_fixed_rows(
        self, principal: Principal, job_id: uuid.UUID, rows: Sequence[EditedRow]
    ) -> dict[int, list[Problem]]:
        """Each edited row's problems as the import would find them now (none: it would go in)."""
        self._writable(principal)
        job = self._import_with_rows_to_fix(principal, job_id)
        dataset = self._dataset(principal, Action.IMPORT, job.dataset)
        if len(rows) > MAX_PAGE_ROWS:
            raise CommandError(422, f"Check at most {MAX_PAGE_ROWS} rows at a time.")
        _fields, rows = self._edited_rows(job, rows)
        kept = self.files.checked_rows_path(job.id) if job.params.get("dryRun") else None
        return check_rows(
            self.store.engine,
            dataset,
            rows,
            mode=_mode(job),
            mapping=_mapping(job),
            checked=kept,
        )

    def import_fixed_rows(
        self, principal: Principal, job_id: uuid.UUID, rows: Sequence[EditedRow]
    ) -> CreatedJob:
        """A new import of the edited rows alone, with the first import's mode and mapping;
        rows still wrong are skipped with their reasons, as in any import."""
        self._writable(principal)
        job = self._import_with_rows_to_fix(principal, job_id)
        dataset = self._dataset(principal, Action.IMPORT, job.dataset)
        if not rows:
            raise CommandError(422, "Send at least one fixed row.")
        if len(rows) > MAX_FIXED_ROWS:
            raise CommandError(422, f"Import at most {MAX_FIXED_ROWS:,} fixed rows at a time.")
        fields, rows = self._edited_rows(job, rows)
        if job.params.get("dryRun"):
            self._refuse_kept_keys(job, dataset, rows)
        self._check_quota(principal, owner=job.owner)
        fix_id = uuid.uuid4()
        stem = Path(str(job.params.get("fileName") or "import")).stem
        file_name = f"{stem}-fixed.jsonl"
        upload = self.files.upload_path(fix_id, file_name)
        try:
            size = _write_fixed_rows(upload, fields, rows)
            params: dict[str, object] = {
                "upload": self.files.relative(upload),
                "fileName": file_name,
                "format": "jsonl",
                "sizeBytes": size,
                "mapping": {name: name for name in fields},
                "sheet": None,
                "mode": _mode(job).value,
                "dryRun": False,
            }
            fix = self._create(
                job.owner,
                kind=JobKind.IMPORT,
                dataset=dataset.name,
                params=params,
                job_id=fix_id,
                fix_of=job.id,
                stored_bytes=size,
            )
        except BaseException:
            shutil.rmtree(upload.parent, ignore_errors=True)
            raise
        return self._submit(fix)

    def _refuse_kept_keys(self, job: Job, dataset: Dataset, rows: Sequence[EditedRow]) -> None:
        """A fixed row of a dry run whose key a row the dry run kept has: imported now, it
        would make the commit skip that row (as "already exists"), so it is refused, as
        the check says."""
        kept = self.files.checked_rows_path(job.id)
        conflicts = kept_row_conflicts(
            dataset, rows, mode=_mode(job), mapping=_mapping(job), checked=kept
        )
        if conflicts:
            number, first = min(conflicts.items())
            raise CommandError(
                422,
                f"Row {number} has the {dataset.key} of row {first}, which this dry run's "
                f"commit will import: change its {dataset.key} and import the rows again.",
            )

    def _import_with_rows_to_fix(self, principal: Principal, job_id: uuid.UUID) -> Job:
        job = self.visible_job(principal, job_id)
        if job.kind is not JobKind.IMPORT or job.undo_of is not None:
            raise CommandError(404, "Import not found")
        if job.status in (JobStatus.PENDING, JobStatus.PROCESSING):
            raise CommandError(
                409,
                f"The import has not completed (it is {job.status.value}), so its skipped "
                "rows are not known yet.",
            )
        if job.status is not JobStatus.COMPLETED or not job.result:
            raise CommandError(
                409,
                f"The import did not complete (it is {job.status.value}): it saved no rows and "
                "kept none to fix. Retry it instead.",
            )
        if not int(job.result.get("skippedCount") or 0):
            raise CommandError(404, NO_ROWS_TO_FIX)
        if job.result.get("filesDeleted"):
            raise CommandError(410, ROWS_TO_FIX_GONE)
        if not self.files.rejected_rows_path(job.id).is_file():
            raise CommandError(410, NOT_KEPT)
        return job

    @contextlib.contextmanager
    def _rows_to_fix(self, job: Job) -> Iterator[RejectedRows]:
        try:
            stored = RejectedRows(self.files.rejected_rows_path(job.id))
        except FileNotFoundError:  # swept between the check and now
            raise CommandError(410, ROWS_TO_FIX_GONE) from None
        except sqlite3.DatabaseError:  # damaged on disk: as good as gone
            raise CommandError(410, UNREADABLE) from None
        with contextlib.closing(stored):
            yield stored

    def _edited_rows(
        self, job: Job, rows: Sequence[EditedRow]
    ) -> tuple[list[str], list[EditedRow]]:
        """The fields, and each edited row over its stored values (a field not sent keeps
        the file's value). Each must be a row the import skipped, sent once, with only its
        fields."""
        numbers = [number for number, _values in rows]
        if len(set(numbers)) != len(numbers):
            raise CommandError(422, "Each row may be sent once.")
        past = next((number for number in numbers if number > MAX_ROW_NUMBER), None)
        if past is not None:  # no file has it, and the store's integers could not hold it
            raise CommandError(422, f"Row {past} is not one this import skipped.")
        with self._rows_to_fix(job) as stored:
            known = stored.rows(numbers)
            fields = stored.fields
        for number, values in rows:
            if number not in known:
                raise CommandError(422, f"Row {number} is not one this import skipped.")
            unknown = sorted(set(values) - set(fields))
            if unknown:
                raise CommandError(
                    422,
                    f"Row {number} has a field this import does not take: {unknown[0][:64]!r} "
                    f"(it takes {', '.join(fields)}).",
                )
        return fields, [(number, {**known[number].values, **values}) for number, values in rows]


def _mode(job: Job) -> ImportMode:
    return ImportMode(job.params.get("mode") or ImportMode.INSERT.value)


def _mapping(job: Job) -> FieldMapping:
    return dict((job.result or {}).get("mapping") or job.params.get("mapping") or {})


def _write_fixed_rows(path: Path, fields: list[str], rows: Sequence[EditedRow]) -> int:
    """The fixed rows as JSON Lines in file order, blank cells left out (as a CSV's are);
    its size in bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for _number, values in sorted(rows, key=lambda row: row[0]):
            line = {name: values[name] for name in fields if _given(values.get(name))}
            handle.write(json.dumps(line, ensure_ascii=False) + "\n")
    return path.stat().st_size


def _given(value: str | None) -> bool:
    return value is not None and value != ""
