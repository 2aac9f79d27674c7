"""Running one job to its end, whichever runner calls it.

This is the only place that turns an engine's outcome into a final status, so every runner
(in-process threads now, other workers later) ends jobs the same way.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

from sqlalchemy import Engine

from jobs_ui.engines.export_job import run_export
from jobs_ui.engines.import_job import ImportFileError, run_import
from jobs_ui.engines.limits import FileLimits
from jobs_ui.engines.progress import JobCancelled
from jobs_ui.engines.undo_job import run_undo
from jobs_ui.engines.xlsx_writer import SheetFullError
from jobs_ui.files import DataFiles
from jobs_ui.jobs.heartbeat import Heartbeat
from jobs_ui.jobs.outcome_text import outcome_sentence, rows
from jobs_ui.jobs.progress import StoreProgressReporter
from jobs_ui.jobs.store import (
    INTERRUPTED_ERROR,
    QUEUE_DOWN,
    RESTARTED,
    WORKER_LOST_ERROR,
    JobStore,
)
from jobs_ui.models import Job, JobKind
from jobs_ui.settings import Settings, get_settings

log = logging.getLogger(__name__)

JobEngine = Callable[..., dict[str, Any]]  # run_import, run_undo or run_export
ENGINES: dict[JobKind, JobEngine] = {JobKind.IMPORT: run_import, JobKind.EXPORT: run_export}


def engine_for(job: Job) -> JobEngine:
    """An undo is an import's kind of job (it changes a dataset's rows) with its own engine."""
    return run_undo if job.undo_of is not None else ENGINES[job.kind]


UNEXPECTED_ERROR = (
    "Something went wrong on our side while running this job; no data was changed. "
    "Retry it, and if it fails again, report job {job_id}."
)


_UNEXPECTED_START = UNEXPECTED_ERROR.split("{", 1)[0]  # the sentence before the job's id


def execute_job(
    job_id: uuid.UUID,
    *,
    store: JobStore,
    engine: Engine,
    files: DataFiles,
    cancel_event: threading.Event | None = None,
    stopping: threading.Event | None = None,
    heartbeat_seconds: float | None = None,
    limits: FileLimits | None = None,
    max_attempts: int | None = None,
) -> Job | None:
    """Start the job if it is still pending, run its engine, and record how it ended.

    `stopping` set means the process is shutting down: a job stopped by it is queued again
    (it runs from the start on the next start), up to `max_attempts` runs, then ends FAILED
    as interrupted; not CANCELLED, since nobody asked to cancel it. With `heartbeat_seconds`
    the job proves it is alive that often (runners outside the backend process need it).
    An import reads its file within `limits`; None means the process settings' (every
    runner, in-process or Celery, comes through here, so JOBS_UI_MAX_* apply to all).
    Every write names the run (`attempt`): a run the job has moved on from writes nothing.
    """
    job = store.start(job_id)
    if job is None:
        log.info("job %s was not pending any more; not started", job_id)
        return store.get(job_id)
    log.info("job %s started: %s %s (run %d)", job.id, job.kind.value, job.dataset, job.attempt)
    run = job.attempt
    reporter = StoreProgressReporter(store, job.id, cancel_event=cancel_event, attempt=run)
    alive = (
        Heartbeat(store, job.id, heartbeat_seconds, attempt=run, lost=reporter.cancel_event)
        if heartbeat_seconds
        else nullcontext()
    )
    inputs: dict[str, Any] = {"engine": engine, "files": files, "reporter": reporter}
    if job.kind is JobKind.IMPORT and job.undo_of is None:
        inputs["limits"] = limits or file_limits(get_settings())
    try:
        with alive:
            result = engine_for(job)(job, **inputs)
    except JobCancelled:
        if stopping is not None and stopping.is_set():
            runs = max_attempts or get_settings().max_attempts
            return store.requeue(job.id, attempt=run, max_attempts=runs, why=RESTARTED)
        return store.mark_cancelled(job.id, attempt=run)
    except (ImportFileError, SheetFullError) as error:  # said for a person: shown as it is
        return store.fail(job.id, error=str(error), attempt=run)
    except Exception:
        log.exception("job %s crashed", job.id)
        return store.fail(job.id, error=UNEXPECTED_ERROR.format(job_id=job.id), attempt=run)
    done = store.complete(
        job.id,
        result=result,
        message=done_message(job, result),
        stored_bytes=files.bytes_of(job.id),
        attempt=run,
    )
    if job.undo_of is not None:
        store.announce(job.undo_of)  # the import now says it was undone
    return done


def retry_can_help(error: str) -> bool:
    """Whether a FAILED job's error is one that running it again may not meet: the server
    or a worker stopped, the queue was down, or something broke on our side. Every other
    failure of an import is its file's (ImportFileError), and the same file fails the same."""
    transient = (INTERRUPTED_ERROR, WORKER_LOST_ERROR, QUEUE_DOWN, _UNEXPECTED_START)
    return error.startswith(transient)  # the first two may say how many runs were cut short


def file_limits(settings: Settings) -> FileLimits:
    """The limits of a file's contents that `settings` ask for."""
    return FileLimits(
        max_line_bytes=settings.max_line_bytes,
        max_columns=settings.max_columns,
        xlsx_memory_bytes=settings.xlsx_memory_mb * 1024 * 1024,
    )


def done_message(job: Job, result: dict[str, Any]) -> str:
    """The sentence a completed job ends on."""
    if job.kind is JobKind.EXPORT:
        return f"Exported {rows(result['rowCount'])}"
    text = outcome_sentence(result, undo=job.undo_of is not None)
    return f"Dry run: {text[0].lower()}{text[1:]}" if result.get("dryRun") else text
