"""Progress of a running job written to its row, throttled, with cancellation checks."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator

from jobs_ui.engines.progress import JobCancelled
from jobs_ui.jobs.store import JobStore

log = logging.getLogger(__name__)

MILESTONE_STEP = 25  # log at 25%, 50%, 75%


class StoreProgressReporter:
    """Writes a job's progress at most every `min_interval` seconds and checks for cancel.

    A cancel arrives either through `cancel_event` (same process, immediate) or through the
    job row's `cancel_requested` flag, which every progress write reads back for free.
    """

    def __init__(
        self,
        store: JobStore,
        job_id: uuid.UUID,
        *,
        cancel_event: threading.Event | None = None,
        min_interval: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._job_id = job_id
        self._cancel_event = cancel_event or threading.Event()
        self._min_interval = min_interval
        self._clock = clock
        self._last_write = float("-inf")
        self._writes_held = False
        self.progress = 0
        self.message = ""

    def update(self, progress: int, message: str, *, force: bool = False) -> None:
        """Record progress; raises JobCancelled if the job should stop."""
        self.check_cancelled()
        if progress // MILESTONE_STEP > self.progress // MILESTONE_STEP:
            log.info("job %s at %d%%: %s", self._job_id, progress, message)
        self.progress = max(self.progress, progress)
        self.message = message
        now = self._clock()
        if self._writes_held or (not force and now - self._last_write < self._min_interval):
            return
        self._last_write = now
        job = self._store.report_progress(self._job_id, progress=self.progress, message=message)
        if job is None or job.cancel_requested:
            self._cancel_event.set()
            self.check_cancelled()

    def check_cancelled(self) -> None:
        if self._cancel_event.is_set():
            raise JobCancelled

    @contextlib.contextmanager
    def writes_held(self) -> Iterator[None]:
        """Skip database writes (cancel checks go on): for while this thread holds SQLite's
        single write lock, where a progress write from another connection would wait on it."""
        self._writes_held = True
        try:
            yield
        finally:
            self._writes_held = False
