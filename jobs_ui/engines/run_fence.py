"""The last check before a job's work is kept: is this run still the job's current one?

A worker taken for dead (silent past the reaper's limit, e.g. a paused machine) may wake up
after its job was queued again as a new run. Its progress writes then find nothing to
change and stop it, but it could be between its last write and its commit. So the
transaction that keeps the rows first touches the job row as this run: if the job has
moved on, nothing is kept. On Postgres the row stays locked until the commit, so the reaper
cannot queue the job again in between; SQLite has one writer anyway.
"""

from __future__ import annotations

import uuid

from sqlalchemy import Connection, update
from sqlmodel import col

from jobs_ui.engines.progress import JobCancelled
from jobs_ui.models import Job, JobStatus, utc_now


def hold_run(connection: Connection, job_id: uuid.UUID, attempt: int) -> None:
    """Within the transaction about to commit: raise JobCancelled unless the job is still
    PROCESSING on run `attempt` (marking it alive, which takes the row's lock)."""
    held = connection.execute(
        update(Job)
        .where(
            col(Job.id) == job_id,
            col(Job.status) == JobStatus.PROCESSING,
            col(Job.attempt) == attempt,
        )
        .values(heartbeat_at=utc_now())
    ).rowcount
    if not held:
        raise JobCancelled
