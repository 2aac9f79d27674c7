"""Where job files live in the data dir: uploads, exports, error reports, scratch space."""

from __future__ import annotations

import contextlib
import re
import uuid
from pathlib import Path

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
ERROR_REPORT_SUFFIX = "-errors.csv"
REJECTED_ROWS_SUFFIX = "-rejected.sqlite"


def safe_filename(name: str, *, fallback: str = "upload") -> str:
    """A file name safe to put on disk: no folders, no odd characters, never empty."""
    base = Path(name.replace("\\", "/")).name
    cleaned = _UNSAFE.sub("_", base).strip("._")[:120]
    return cleaned or fallback


class DataFiles:
    """Paths of one data dir. Job params store paths relative to it, so the dir can move."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def prepare(self) -> None:
        for folder in ("uploads", "inspected", "exports", "reports", "scratch", "checked"):
            (self.root / folder).mkdir(parents=True, exist_ok=True)

    def clear_scratch(self) -> None:
        """Remove scratch files left by imports of a process that died (call at start, with
        no import running in this data dir)."""
        for leftover in (self.root / "scratch").glob("*.sqlite"):
            leftover.unlink(missing_ok=True)

    def upload_dir(self, job_id: uuid.UUID) -> Path:
        return self.root / "uploads" / str(job_id)

    def upload_path(self, job_id: uuid.UUID, filename: str) -> Path:
        return self.upload_dir(job_id) / safe_filename(filename)

    def inspected_dir(self, upload_id: uuid.UUID) -> Path:
        """Where an inspected file waits for its import (see jobs_ui/jobs/uploads.py)."""
        return self.root / "inspected" / str(upload_id)

    def inspected_path(self, upload_id: uuid.UUID, filename: str) -> Path:
        return self.inspected_dir(upload_id) / safe_filename(filename)

    def export_path(self, job_id: uuid.UUID, filename: str) -> Path:
        return self.root / "exports" / str(job_id) / safe_filename(filename)

    def error_report_path(self, job_id: uuid.UUID) -> Path:
        return self.root / "reports" / f"{job_id}{ERROR_REPORT_SUFFIX}"

    def rejected_rows_path(self, job_id: uuid.UUID) -> Path:
        """The rows an import skipped, each with its problems: what the grid of rows to fix
        pages through (see jobs_ui/engines/rejected_rows.py)."""
        return self.root / "reports" / f"{job_id}{REJECTED_ROWS_SUFFIX}"

    def scratch_path(self, job_id: uuid.UUID) -> Path:
        return self.root / "scratch" / f"{job_id}.sqlite"

    def checked_rows_path(self, job_id: uuid.UUID) -> Path:
        """The rows a dry run checked, kept for its commit (an import scratch file)."""
        return self.root / "checked" / f"{job_id}.sqlite"

    def bytes_of(self, job_id: uuid.UUID) -> int:
        """What a job's files take on disk: its upload, export, error report, rows to fix and
        checked rows."""
        folders = (self.upload_dir(job_id), self.root / "exports" / str(job_id))
        paths = [child for folder in folders if folder.is_dir() for child in folder.iterdir()]
        paths += [
            self.error_report_path(job_id),
            self.rejected_rows_path(job_id),
            self.checked_rows_path(job_id),
        ]
        total = 0
        for path in paths:
            with contextlib.suppress(FileNotFoundError):
                total += path.stat().st_size
        return total

    def relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def resolve(self, relative: str) -> Path:
        """The absolute path of a stored relative one, refusing anything outside the data dir."""
        path = (self.root / relative).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError(f"path {relative!r} leaves the data dir")
        return path
