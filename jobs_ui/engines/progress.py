"""What an engine needs to say how far it is: the reporter it is handed, and how it stops.

Engines know nothing of where progress goes (the job row, a console, a test's list); the
runner hands them a reporter (`jobs_ui.jobs.progress.StoreProgressReporter` in the app).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol


class JobCancelled(Exception):
    """Raised inside an engine when its job was asked to stop."""


class ProgressReporter(Protocol):
    def update(
        self, progress: int, message: str, *, force: bool = False, rows: int | None = None
    ) -> None:
        """Record progress (0-100) and the current step; raises JobCancelled to stop.

        `rows`: how many rows the current step has processed so far (a running count, not
        a difference; a new step starts again from 0). It gives the job's rows per second.
        """

    def check_cancelled(self) -> None:
        """Raise JobCancelled if the job was asked to stop."""

    def writes_held(self) -> AbstractContextManager[None]:
        """While the engine holds the database's single write lock (SQLite): progress is
        kept but not written, so it does not wait on that lock."""
