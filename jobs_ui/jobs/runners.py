"""Where jobs run. The embedded runner uses a bounded pool of threads in this process.

Runners share one small interface so the app can swap in others (e.g. queue workers)
without touching job code: the job itself is run by `jobs_ui.jobs.execution.execute_job`.
"""

from __future__ import annotations

import logging
import threading
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Protocol

from celery import Celery
from kombu.exceptions import KombuError
from sqlalchemy import Engine

from jobs_ui.engines.limits import FileLimits
from jobs_ui.files import DataFiles
from jobs_ui.jobs.celery_app import RUN_JOB_TASK
from jobs_ui.jobs.execution import execute_job
from jobs_ui.jobs.store import JobStore
from jobs_ui.models import JobStatus
from jobs_ui.webhooks.loop import DeliveryLoop

log = logging.getLogger(__name__)


class JobRunner(Protocol):
    def start(self) -> None:
        """Begin accepting jobs, after settling any left over by a process that died."""

    def submit(self, job_id: uuid.UUID) -> None:
        """Run a PENDING job soon."""

    def cancel(self, job_id: uuid.UUID) -> None:
        """Ask a running job to stop at its next chunk (the row's flag is already set)."""

    def shutdown(self) -> None:
        """Stop taking jobs and wait for running ones to stop."""


class InProcessRunner:
    """Runs jobs on a thread pool of `concurrency` threads, off the event loop.

    On shutdown, running jobs stop at their next chunk and go back to PENDING; jobs still
    queued stay PENDING. On start, jobs left PROCESSING by a previous process (it died) go
    back to PENDING too, and every PENDING job is queued again: a job is all or nothing,
    so running it again from the start is safe. After `max_attempts` runs cut short a job
    ends FAILED instead, so a job that brings the server down cannot do it for ever.

    With `deliveries`, it runs the webhook deliveries beside the jobs too (started after
    the jobs, stopped after them, so an end recorded while stopping is delivered next
    start): this process alone sends, so leases a dead run of it left are freed at start.
    """

    def __init__(
        self,
        *,
        store: JobStore,
        engine: Engine,
        files: DataFiles,
        concurrency: int,
        limits: FileLimits | None = None,
        max_attempts: int = 3,
        deliveries: DeliveryLoop | None = None,
    ) -> None:
        self._deliveries = deliveries
        self._limits = limits
        self._max_attempts = max_attempts
        self._store = store
        self._engine = engine
        self._files = files
        self._concurrency = concurrency
        self._pool: ThreadPoolExecutor | None = None
        self._cancel_events: dict[uuid.UUID, threading.Event] = {}
        self._stopping = threading.Event()
        self._lock = threading.Lock()

    def start(self) -> None:
        if self._pool is not None:
            return
        self._pool = ThreadPoolExecutor(self._concurrency, thread_name_prefix="job")
        self._store.requeue_interrupted(max_attempts=self._max_attempts)
        for job_id in self._store.ids_with_status(JobStatus.PENDING):
            self.submit(job_id)
        if self._deliveries is not None:
            self._deliveries.start(sole_sender=True)

    def submit(self, job_id: uuid.UUID) -> None:
        if self._pool is None:
            raise RuntimeError("the runner has not been started")
        with self._lock:
            cancel_event = self._cancel_events.setdefault(job_id, threading.Event())
        future = self._pool.submit(self._run, job_id, cancel_event)
        future.add_done_callback(lambda done: self._forget(job_id, done))

    def cancel(self, job_id: uuid.UUID) -> None:
        with self._lock:
            event = self._cancel_events.get(job_id)
        if event is not None:
            event.set()

    def shutdown(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        self._stopping.set()
        with self._lock:
            for event in self._cancel_events.values():
                event.set()
        pool.shutdown(wait=True, cancel_futures=True)
        if self._deliveries is not None:
            self._deliveries.stop()

    @property
    def active_jobs(self) -> int:
        with self._lock:
            return len(self._cancel_events)

    def _run(self, job_id: uuid.UUID, cancel_event: threading.Event) -> None:
        execute_job(
            job_id,
            store=self._store,
            engine=self._engine,
            files=self._files,
            cancel_event=cancel_event,
            stopping=self._stopping,
            limits=self._limits,
            max_attempts=self._max_attempts,
        )

    def _forget(self, job_id: uuid.UUID, future: Future[None]) -> None:
        with self._lock:
            self._cancel_events.pop(job_id, None)
        if not future.cancelled() and (error := future.exception()) is not None:
            log.error("runner thread for job %s failed", job_id, exc_info=error)


class QueueUnavailableError(RuntimeError):
    """The job could not be handed to the queue."""


class CeleryRunner:
    """Hands jobs to Celery workers. Cancel needs nothing here: workers read the job row's
    cancel flag on every progress write. Jobs whose worker dies are queued again by the
    reaper (`jobs_ui.services`). Webhook deliveries are the workers' too (each runs a
    delivery loop, see `jobs_ui.jobs.worker`)."""

    def __init__(self, celery: Celery, queue: str) -> None:
        self._celery = celery
        self._queue = queue

    def start(self) -> None:
        return None

    def submit(self, job_id: uuid.UUID) -> None:
        try:
            self._celery.send_task(RUN_JOB_TASK, args=[str(job_id)], queue=self._queue)
        except (OSError, KombuError) as error:
            raise QueueUnavailableError(str(error)) from error

    def cancel(self, job_id: uuid.UUID) -> None:
        return None

    def shutdown(self) -> None:
        return None
