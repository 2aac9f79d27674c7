"""A running job's proof of life, for runners in other processes (queue workers).

If the process running a job dies, its heartbeat stops; any backend's reaper then queues
the job again as a new run, or ends it FAILED once its runs are spent (see
`JobStore.requeue_stale`). That bounds how long a lost job can look alive.
"""

from __future__ import annotations

import logging
import threading
import uuid
from types import TracebackType

from sqlalchemy.exc import SQLAlchemyError

from jobs_ui.jobs.store import JobStore

log = logging.getLogger(__name__)


class Heartbeat:
    """While active, marks run `attempt` of the job alive every `interval` seconds from a
    daemon thread. If the job is no longer on that run (a reaper took this worker for dead
    and queued the job again), `lost` is set, so the run stops at its next chunk."""

    def __init__(
        self,
        store: JobStore,
        job_id: uuid.UUID,
        interval: float,
        *,
        attempt: int,
        lost: threading.Event,
    ) -> None:
        self._store = store
        self._job_id = job_id
        self._interval = interval
        self._attempt = attempt
        self._lost = lost
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{job_id}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stopped.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stopped.wait(self._interval):
            try:
                if not self._store.beat(self._job_id, self._attempt):
                    self._lost.set()
                    return
            except SQLAlchemyError:  # a blip; the next beat retries, staleness needs several
                log.warning("heartbeat of job %s failed", self._job_id, exc_info=True)
