"""The Celery worker of figure 7 (bench/scale_latency.py): the project's own Celery app, plus
one bench-only task that commits progress to a job the way a running import does.

Run (the benchmark does): celery -A bench.scale_worker worker
with DATABASE_URL, REDIS_URL, JOBS_UI_DATA_DIR and JOBS_UI_NAMESPACE set, as for `make worker`.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

from bench.scale_latency import DRIVE_TASK
from jobs_ui.engines.progress import JobCancelled
from jobs_ui.jobs.celery_app import WorkerContext
from jobs_ui.jobs.heartbeat import Heartbeat
from jobs_ui.jobs.progress import StoreProgressReporter
from jobs_ui.jobs.store import JobStore
from jobs_ui.jobs.worker import app
from jobs_ui.settings import get_settings

__all__ = ["app", "drive_progress"]

_context: WorkerContext | None = None


def _worker_context() -> WorkerContext:
    """Built on first use, in the pool process that runs the task, as the project's run_job
    task does: connections copied from a parent by fork are not safe to share."""
    global _context
    if _context is None:
        _context = WorkerContext.from_settings(get_settings())
    return _context


@app.task(name=DRIVE_TASK)
def drive_progress(job_id: str, count: int, gap_ms: float, output: str) -> None:
    """Commit `count` progress updates `gap_ms` apart through the worker's store and its Redis
    publisher; write one [version, began, committed, published] (time.perf_counter) per update
    to `output` as JSON, since the project's Celery app keeps no task results."""
    context = _worker_context()
    publish = context.store.notify
    commits: list[list[float]] = []
    began = 0.0

    def timed_publish(changed: uuid.UUID, version: int) -> None:
        # The store calls this right after the commit (and its read-back of the row), so
        # `committed` is when readers can first see this version; the publish is timed apart.
        committed = time.perf_counter()
        publish(changed, version)
        commits.append([version, began, committed, time.perf_counter()])

    store = JobStore(context.engine, timed_publish)
    job = uuid.UUID(job_id)
    # An import's reporter writes at most 4 times a second; the figure wants every update.
    reporter = StoreProgressReporter(store, job, min_interval=0.0)
    error: str | None = None
    try:
        # The benchmark's job is on its first run; a lost one stops the reporter at once.
        interval = get_settings().heartbeat_seconds
        with Heartbeat(store, job, interval, attempt=1, lost=reporter.cancel_event):
            for number in range(count):
                began = time.perf_counter()
                reporter.update(1 + number * 98 // max(count, 1), f"u{number}")
                time.sleep(gap_ms / 1000)
    except JobCancelled:
        error = f"job {job_id} stopped being PROCESSING after {len(commits)} updates"
    _write_json(Path(output), {"commits": commits, "error": error})


def _write_json(path: Path, value: dict[str, Any]) -> None:
    """Whole or not at all: the benchmark reads the file as soon as it appears."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(value))
    os.replace(partial, path)
