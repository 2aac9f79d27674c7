"""Deleting the files of jobs that ended long ago: uploads, exports, error reports and the
rows dry runs checked.

A job's files stay while it is pending or running, and for `JOBS_UI_KEEP_FILES_DAYS` after it
ended; then they go (a download then answers 410 "no longer stored"). The job rows stay: the
jobs list keeps its history. Files that belong to no job (a job row that was never created,
or one deleted by hand) go once they are as old as the limit. Every backend may sweep: the
deletions are idempotent.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

from jobs_ui.files import ERROR_REPORT_SUFFIX, REJECTED_ROWS_SUFFIX, DataFiles
from jobs_ui.jobs.lineage import JobLineage
from jobs_ui.jobs.store import JobStore
from jobs_ui.models import utc_now

log = logging.getLogger(__name__)

LOOKUP_BATCH = 500  # job ids per database query


def sweep_old_files(
    store: JobStore, files: DataFiles, *, keep_for: timedelta, now: datetime | None = None
) -> int:
    """Delete the files of jobs that ended more than `keep_for` ago; returns how many jobs'."""
    cutoff = (now or utc_now()) - keep_for
    # A file newer than the cutoff is kept whatever its job says (its row may not exist yet).
    candidates: dict[uuid.UUID, list[Path]] = {}
    for job_id, path in _job_files(files):
        candidates.setdefault(job_id, []).append(path)
    old = {
        job_id: paths
        for job_id, paths in candidates.items()
        if all(_modified(path) < cutoff.timestamp() for path in paths)
    }
    ids = list(old)
    lineage = JobLineage(store.engine)
    needed: set[uuid.UUID] = set()
    for start in range(0, len(ids), LOOKUP_BATCH):
        needed |= store.still_needed(ids[start : start + LOOKUP_BATCH], ended_after=cutoff)
    swept = 0
    for job_id, paths in old.items():
        if job_id in needed:
            continue
        for path in paths:
            _delete(path)
        store.forget_files(job_id)  # the pages then say so instead of offering a dead link
        lineage.forget_changes(job_id)  # an import's undo follows its files
        swept += 1
    if swept:
        log.info("deleted the files of %d jobs that ended before %s", swept, cutoff)
    return swept


def _job_files(files: DataFiles) -> Iterator[tuple[uuid.UUID, Path]]:
    """(job id, its folder or file) for everything stored per job."""
    for folder in ("uploads", "exports"):
        for entry in _entries(files.root / folder):
            with contextlib.suppress(ValueError):  # not a job's folder: leave it alone
                yield uuid.UUID(entry.name), entry
    for entry in _entries(files.root / "reports"):
        name = entry.name.removesuffix(ERROR_REPORT_SUFFIX).removesuffix(REJECTED_ROWS_SUFFIX)
        with contextlib.suppress(ValueError):
            yield uuid.UUID(name), entry
    for entry in _entries(files.root / "checked"):
        with contextlib.suppress(ValueError):
            yield uuid.UUID(entry.name.removesuffix(".sqlite")), entry


def _entries(folder: Path) -> list[Path]:
    try:
        return list(folder.iterdir())
    except FileNotFoundError:
        return []


def _modified(path: Path) -> float:
    """The newest modification time in `path` (a folder's files count, not just the folder)."""
    try:
        times = [path.stat().st_mtime]
        if path.is_dir():
            times += [child.stat().st_mtime for child in path.rglob("*")]
    except FileNotFoundError:  # deleted meanwhile (another backend sweeping)
        return 0.0
    return max(times)


def _delete(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
