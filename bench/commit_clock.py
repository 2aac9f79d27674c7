"""Timing commits where they become visible, for the benchmarks that drive a job."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jobs_ui.jobs.store import JobStore


class CommitClock:
    """When each of a drive's commits became visible to readers.

    The store calls its notifier right after the commit (and the read-back of the row), and
    only that call lets a stream hear of the change; so the time is taken there, just before
    it, as bench/scale_worker.py does for figure 7. Taken after report_progress returns, a
    broadcast that wins the GIL first would be timed from a later moment than its commit
    (fast fan-outs even came out negative).
    """

    def __init__(self, store: JobStore, now: Callable[[], float] = time.perf_counter) -> None:
        self._now = now
        self._notify = store.notify
        self._local = threading.local()  # each drive records its own thread's commits
        store.notify = self._timed

    def _timed(self, job_id: uuid.UUID, version: int) -> None:
        record: list[list[float]] | None = getattr(self._local, "record", None)
        if record is not None:
            record.append([version, self._now()])
        self._notify(job_id, version)

    @contextlib.contextmanager
    def recording(self) -> Iterator[list[list[float]]]:
        """[version, commit time] of every commit this thread makes inside the block."""
        record: list[list[float]] = []
        self._local.record = record
        try:
            yield record
        finally:
            self._local.record = None
