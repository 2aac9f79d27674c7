"""Job persistence: every change is one short transaction that bumps `version`.

Status moves only forward, enforced in SQL (`UPDATE ... WHERE status = ...`), so two
processes racing on one job cannot move it backwards. The one way back, PROCESSING to
PENDING, is a run interrupted by a restart or a lost worker being queued again; it bumps
`attempt`, and every write of a run names its attempt, so a run given up on can change
nothing after that. After each commit the store tells the notifier "job X is now at
version V"; listeners re-read the row, which stays the truth. What a job's progress and end
owe to others (webhook deliveries) is written by the outbox in the change's own transaction.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Engine, case, func, true, update
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from jobs_ui.db import is_sqlite, serialise_on
from jobs_ui.jobs.uploads import InspectedUpload
from jobs_ui.models import FINAL_STATUSES, Job, JobKind, JobStatus, utc_now

log = logging.getLogger(__name__)

Notifier = Callable[[uuid.UUID, int], None]

INTERRUPTED_ERROR = (
    "The server stopped while this job was running, so it did not finish. "
    "Nothing it did was kept; retry it to run it again."
)
QUEUE_DOWN = (
    "The job queue cannot be reached right now, so the job could not start. Try again shortly."
)
WORKER_LOST_ERROR = (
    "The worker running this job stopped responding, so it did not finish. "
    "Nothing it did was kept; retry it to run it again."
)


@dataclass(frozen=True)
class Interruption:
    """Why a run stopped though nobody asked it to: what the job says while it is queued
    again, and the error it ends on once its runs are spent."""

    again: str
    error: str

    def spent(self, runs: int) -> str:
        if runs == 1:
            return self.error
        return f"{self.error} It ran {runs} times and was interrupted each time."


RESTARTED = Interruption(again="Started again after the server restarted", error=INTERRUPTED_ERROR)
WORKER_LOST = Interruption(
    again="Started again after the worker running it stopped", error=WORKER_LOST_ERROR
)


def _no_notify(_job_id: uuid.UUID, _version: int) -> None:
    return None


class Outbox(Protocol):
    """What follows from a job's progress and end, written with them (webhook deliveries):
    so an end is never committed without what it owes, nor the other way round."""

    def write(self, session: Session, job: Job) -> bool:
        """Within the transaction of the change that left `job` as it is (its progress, or
        its end): add what it owes. True if anything was added."""

    def after_commit(self) -> None:
        """That transaction committed, and `write` had added something."""


ACTIVE_STATUSES = (JobStatus.PENDING, JobStatus.PROCESSING)


@dataclass(frozen=True)
class OwnerUsage:
    active_jobs: int
    stored_bytes: int


class QuotaExceededError(Exception):
    """An owner is at a limit; `status` 429 (wait for jobs to end) or 413 (too much
    stored), `retry_after` seconds for 429."""

    def __init__(self, status: int, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.retry_after = status, message, retry_after


@dataclass(frozen=True)
class Quota:
    max_active_jobs: int
    max_stored_bytes: int

    def check(self, usage: OwnerUsage, *, adding_bytes: int = 0) -> None:
        if usage.active_jobs >= self.max_active_jobs:
            raise QuotaExceededError(
                429,
                f"You already have {usage.active_jobs} jobs waiting or running, the most "
                "allowed at once. Start this one when one of them has ended.",
                retry_after=5,
            )
        if usage.stored_bytes + adding_bytes > self.max_stored_bytes:
            raise QuotaExceededError(
                413,
                f"Your jobs' files take {_megabytes(usage.stored_bytes)} of your "
                f"{_megabytes(self.max_stored_bytes)}; this would pass it. Files are deleted "
                "some days after their job ends.",
            )


def _megabytes(count: int) -> str:
    return f"{count / 1024 / 1024:,.0f} MB"


def _usage(session: Session, owner: str) -> OwnerUsage:
    active = session.exec(
        select(func.count()).where(Job.owner == owner, col(Job.status).in_(ACTIVE_STATUSES))
    ).one()
    stored = session.exec(
        select(func.coalesce(func.sum(Job.stored_bytes), 0)).where(Job.owner == owner)
    ).one()
    # Files inspected and waiting for their import take room too.
    waiting = session.exec(
        select(func.coalesce(func.sum(InspectedUpload.size_bytes), 0)).where(
            InspectedUpload.owner == owner
        )
    ).one()
    return OwnerUsage(active_jobs=int(active), stored_bytes=int(stored) + int(waiting))


class JobStore:
    """Reads and writes jobs; the only code that changes a job row."""

    def __init__(
        self, engine: Engine, notify: Notifier = _no_notify, outbox: Outbox | None = None
    ) -> None:
        self.engine = engine
        self.notify = notify
        self.outbox = outbox

    # --- reading -----------------------------------------------------------------------

    def get(self, job_id: uuid.UUID) -> Job | None:
        with Session(self.engine, expire_on_commit=False) as session:
            return session.get(Job, job_id)

    def list_jobs(
        self,
        *,
        owner: str | None,
        limit: int = 50,
        after: tuple[datetime, uuid.UUID] | None = None,
        status: JobStatus | None = None,
        kind: JobKind | None = None,
    ) -> Sequence[Job]:
        """Jobs newest first (of one owner, or everyone's for None), after the job `after`
        names by (created_at, id): a keyset page, stable while new jobs arrive."""
        query = select(Job)
        if owner is not None:
            query = query.where(Job.owner == owner)
        if status is not None:
            query = query.where(Job.status == status)
        if kind is not None:
            query = query.where(Job.kind == kind)
        if after is not None:
            created, job_id = after
            query = query.where(
                (col(Job.created_at) < created)
                | ((col(Job.created_at) == created) & (col(Job.id) < job_id))
            )
        query = query.order_by(col(Job.created_at).desc(), col(Job.id).desc()).limit(limit)
        with Session(self.engine, expire_on_commit=False) as session:
            return session.exec(query).all()

    def usage(self, owner: str) -> OwnerUsage:
        """How many jobs of `owner` are active, and how many bytes its jobs' files take."""
        with Session(self.engine) as session:
            return _usage(session, owner)

    def ids_with_status(self, status: JobStatus) -> list[uuid.UUID]:
        with Session(self.engine) as session:
            query = select(Job.id).where(Job.status == status).order_by(col(Job.created_at))
            return list(session.exec(query).all())

    def is_cancel_requested(self, job_id: uuid.UUID) -> bool:
        with Session(self.engine) as session:
            flag = session.exec(select(Job.cancel_requested).where(Job.id == job_id)).first()
            return bool(flag)

    # --- writing -----------------------------------------------------------------------

    def create(
        self,
        *,
        kind: JobKind,
        dataset: str,
        owner: str,
        params: dict[str, Any],
        retry_of: uuid.UUID | None = None,
        commit_of: uuid.UUID | None = None,
        undo_of: uuid.UUID | None = None,
        fix_of: uuid.UUID | None = None,
        job_id: uuid.UUID | None = None,
        stored_bytes: int = 0,
        quota: Quota | None = None,
    ) -> Job:
        """A new PENDING job. With `quota`, the owner's usage is checked in the same
        transaction (serialised per owner), so racing requests cannot pass it together."""
        job = Job(
            id=job_id or uuid.uuid4(),
            kind=kind,
            dataset=dataset,
            owner=owner,
            params=params,
            retry_of=retry_of,
            commit_of=commit_of,
            undo_of=undo_of,
            fix_of=fix_of,
            message="Waiting to start",
            stored_bytes=stored_bytes,
        )
        with Session(self.engine, expire_on_commit=False) as session:
            if quota is not None:
                self._lock_owner(session, owner)
                quota.check(_usage(session, owner), adding_bytes=stored_bytes)
            session.add(job)
            session.commit()
        log.info("job %s created: %s %s for %s", job.id, kind.value, dataset, owner)
        self.notify(job.id, job.version)
        return job

    def start(self, job_id: uuid.UUID) -> Job | None:
        """PENDING -> PROCESSING; None when the job is no longer pending (e.g. cancelled).
        A run after the first keeps saying why it started again until its first step."""
        now = utc_now()
        return self._change(
            job_id,
            col(Job.status) == JobStatus.PENDING,
            status=JobStatus.PROCESSING,
            started_at=now,
            heartbeat_at=now,
            message=case((col(Job.attempt) > 1, Job.message), else_="Starting"),
        )

    def report_progress(
        self,
        job_id: uuid.UUID,
        *,
        progress: int,
        message: str,
        rows_per_second: float | None = None,
        eta_seconds: int | None = None,
        attempt: int | None = None,
    ) -> Job | None:
        """Record progress of a running job; it never goes backwards. The pace is stored as
        given (None: not known yet). None back: the job is not running (this `attempt`)."""
        progress = max(0, min(99, progress))
        return self._change(
            job_id,
            (col(Job.status) == JobStatus.PROCESSING) & _run_is(attempt),
            owes=True,
            progress=func.max(Job.progress, progress)
            if is_sqlite(self.engine)
            else func.greatest(Job.progress, progress),
            message=message,
            rows_per_second=rows_per_second,
            eta_seconds=eta_seconds,
        )

    def complete(
        self,
        job_id: uuid.UUID,
        *,
        result: dict[str, Any],
        message: str,
        stored_bytes: int | None = None,
        attempt: int | None = None,
    ) -> Job | None:
        extra: dict[str, Any] = {} if stored_bytes is None else {"stored_bytes": stored_bytes}
        return self._finish(
            job_id,
            JobStatus.COMPLETED,
            attempt=attempt,
            progress=100,
            result=result,
            message=message,
            **extra,
        )

    def fail(
        self,
        job_id: uuid.UUID,
        *,
        error: str,
        result: dict[str, Any] | None = None,
        attempt: int | None = None,
    ) -> Job | None:
        return self._finish(
            job_id, JobStatus.FAILED, attempt=attempt, error=error, result=result, message="Failed"
        )

    def fail_unstarted(self, job_id: uuid.UUID, *, error: str) -> Job | None:
        """End a job that never got to run (e.g. the queue could not take it)."""
        return self._finish(
            job_id, JobStatus.FAILED, error=error, message="Failed", allow_pending=True
        )

    def mark_cancelled(
        self,
        job_id: uuid.UUID,
        *,
        result: dict[str, Any] | None = None,
        attempt: int | None = None,
    ) -> Job | None:
        return self._finish(
            job_id, JobStatus.CANCELLED, attempt=attempt, result=result, message="Cancelled"
        )

    def request_cancel(self, job_id: uuid.UUID) -> Job | None:
        """A pending job is cancelled at once; a running one is asked to stop at its next chunk.

        Returns the job as it is afterwards, or None if it does not exist.
        """
        cancelled = self._finish(
            job_id, JobStatus.CANCELLED, message="Cancelled", allow_pending=True
        )
        if cancelled is not None:
            return cancelled
        requested = self._change(
            job_id,
            (col(Job.status) == JobStatus.PROCESSING) & (col(Job.cancel_requested).is_(False)),
            cancel_requested=True,
            message="Cancelling",
        )
        return requested or self.get(job_id)

    def beat(self, job_id: uuid.UUID, attempt: int | None = None) -> bool:
        """Say a running job's runner is alive (no version bump: clients see no change)."""
        statement = (
            update(Job)
            .where(
                col(Job.id) == job_id,
                col(Job.status) == JobStatus.PROCESSING,
                _run_is(attempt),
            )
            .values(heartbeat_at=utc_now())
        )
        with Session(self.engine) as session:
            alive = bool(session.exec(statement).rowcount)
            session.commit()
        return alive

    def still_needed(
        self, job_ids: Sequence[uuid.UUID], *, ended_after: datetime
    ) -> set[uuid.UUID]:
        """Of `job_ids`, the jobs that exist and have not ended, or ended after `ended_after`."""
        if not job_ids:
            return set()
        query = select(Job.id).where(
            col(Job.id).in_(job_ids),
            (col(Job.finished_at).is_(None)) | (col(Job.finished_at) > ended_after),
        )
        with Session(self.engine) as session:
            return set(session.exec(query))

    def news_of(self, owners: Collection[str], *, ended_after: datetime) -> Sequence[Job]:
        """The jobs of these owners still to finish, and those that ended after
        `ended_after`: what every open page shows of its visitor's jobs, in one read."""
        if not owners:
            return []
        query = select(Job).where(
            col(Job.owner).in_(owners),
            col(Job.status).in_(ACTIVE_STATUSES) | (col(Job.finished_at) > ended_after),
        )
        with Session(self.engine, expire_on_commit=False) as session:
            return list(session.exec(query))

    def requeue(
        self,
        job_id: uuid.UUID,
        *,
        attempt: int,
        max_attempts: int,
        why: Interruption,
        also: ColumnElement[bool] | None = None,
    ) -> Job | None:
        """Run `attempt` of a job was interrupted (not cancelled, not failed): queue the job
        again, PENDING from 0%, while it has runs left of `max_attempts`; else end it FAILED.
        A cancel asked for during the run ends it CANCELLED, as asked. Nothing happens, and
        None is returned, unless that run is still the job's current one (and `also` holds)."""
        this_run = (
            (col(Job.status) == JobStatus.PROCESSING)
            & (col(Job.attempt) == attempt)
            & (true() if also is None else also)
        )
        cancelled = self._finish(
            job_id,
            JobStatus.CANCELLED,
            condition=this_run & col(Job.cancel_requested).is_(True),
            message="Cancelled",
        )
        if cancelled is not None:
            return cancelled
        if attempt >= max_attempts:
            return self._finish(
                job_id,
                JobStatus.FAILED,
                condition=this_run,
                error=why.spent(attempt),
                message="Failed",
            )
        queued = self._change(
            job_id,
            this_run,
            status=JobStatus.PENDING,
            attempt=attempt + 1,
            progress=0,
            message=why.again,
            started_at=None,
            heartbeat_at=None,
            rows_per_second=None,
            eta_seconds=None,
        )
        if queued is not None:
            log.warning("job %s was interrupted; queued again (run %d)", job_id, attempt + 1)
        return queued

    def requeue_stale(self, *, older_than: timedelta, max_attempts: int) -> list[Job]:
        """Every PROCESSING job whose runner has been silent for `older_than` (its worker
        died): queued again, or ended FAILED once its runs are spent. Returns the jobs as
        left; those PENDING need handing to a runner."""
        cutoff = utc_now() - older_than
        with Session(self.engine) as session:
            query = select(Job.id, Job.attempt).where(
                Job.status == JobStatus.PROCESSING, col(Job.heartbeat_at) < cutoff
            )
            stale = list(session.exec(query).all())
        still_silent = col(Job.heartbeat_at) < cutoff  # unless it beat in the meantime
        left = (
            self.requeue(
                job_id,
                attempt=attempt,
                max_attempts=max_attempts,
                why=WORKER_LOST,
                also=still_silent,
            )
            for job_id, attempt in stale
        )
        return [job for job in left if job is not None]

    def requeue_interrupted(self, *, max_attempts: int) -> list[Job]:
        """Every job left PROCESSING by a process that died (called before runners start):
        queued again, or ended FAILED once its runs are spent. Returns the jobs as left."""
        with Session(self.engine) as session:
            query = select(Job.id, Job.attempt).where(Job.status == JobStatus.PROCESSING)
            running = list(session.exec(query).all())
        left = (
            self.requeue(job_id, attempt=attempt, max_attempts=max_attempts, why=RESTARTED)
            for job_id, attempt in running
        )
        return [job for job in left if job is not None]

    # --- internals ---------------------------------------------------------------------

    def check_room(
        self, session: Session, owner: str, quota: Quota, *, adding_bytes: int = 0
    ) -> None:
        """Within `session`'s transaction: take the owner's lock and check their usage, so
        a write that follows in the same transaction cannot race another one past `quota`."""
        self._lock_owner(session, owner)
        quota.check(_usage(session, owner), adding_bytes=adding_bytes)

    def _lock_owner(self, session: Session, owner: str) -> None:
        """Serialise quota checks of one owner."""
        serialise_on(session, owner)

    def _finish(
        self,
        job_id: uuid.UUID,
        status: JobStatus,
        *,
        allow_pending: bool = False,
        attempt: int | None = None,
        condition: ColumnElement[bool] | None = None,
        **values: Any,
    ) -> Job | None:
        """End the job as `status` if it is running (this `attempt`), or pending with
        `allow_pending`; `condition`, when given, is the whole condition instead."""
        if condition is None:
            allowed = JobStatus.PENDING if allow_pending else JobStatus.PROCESSING
            condition = (col(Job.status) == allowed) & _run_is(attempt)
        job = self._change(
            job_id,
            condition,
            owes=True,
            status=status,
            finished_at=utc_now(),
            rows_per_second=None,  # an ended job has no pace
            eta_seconds=None,
            **values,
        )
        if job is not None:
            self._log_finish(job)
        return job

    def announce(self, job_id: uuid.UUID) -> None:
        """Tell the job's followers of a change made outside this store (an undo marks its
        import undone in the transaction that undoes it)."""
        job = self.get(job_id)
        if job is not None:
            self.notify(job.id, job.version)

    def forget_files(self, job_id: uuid.UUID) -> Job | None:
        """Record that an ended job's files were deleted: its public result then links to
        them no more (see jobs_ui.models.public_result)."""
        job = self.get(job_id)
        if job is None or not job.status.is_final or not job.result:
            return None
        if job.result.get("filesDeleted"):
            return job
        # Links older rows stored are dropped: they are computed when the job is shown.
        stale = ("fileUrl", "errorReportUrl")
        result = {key: value for key, value in job.result.items() if key not in stale}
        result["filesDeleted"] = True
        return self._change(
            job_id, col(Job.status).in_(FINAL_STATUSES), result=result, stored_bytes=0
        )

    def _change(
        self,
        job_id: uuid.UUID,
        condition: ColumnElement[bool],
        *,
        owes: bool = False,
        **values: Any,
    ) -> Job | None:
        """Apply `values` if `condition` holds; bump the version and notify after commit.
        `owes`: a change the outbox is told of (progress, an end), in the same transaction."""
        statement = (
            update(Job)
            .where(col(Job.id) == job_id, condition)
            .values(version=Job.version + 1, updated_at=utc_now(), **values)
        )
        outbox = self.outbox if owes else None
        with Session(self.engine, expire_on_commit=False) as session:
            changed = session.exec(statement).rowcount
            if not changed:
                session.rollback()
                return None
            job = session.get(Job, job_id, populate_existing=True)
            wrote = outbox is not None and job is not None and outbox.write(session, job)
            session.commit()
        if outbox is not None and wrote:
            outbox.after_commit()
        if job is not None:
            self.notify(job.id, job.version)
        return job

    @staticmethod
    def _log_finish(job: Job) -> None:
        started = job.started_at or job.created_at
        finished = job.finished_at or job.updated_at
        seconds = (finished - started).total_seconds() if started and finished else 0.0
        if job.status == JobStatus.FAILED:
            log.warning("job %s FAILED after %.2fs: %s", job.id, seconds, job.error)
        else:
            log.info("job %s %s after %.2fs", job.id, job.status.value, seconds)


def _run_is(attempt: int | None) -> ColumnElement[bool]:
    """The job is on run `attempt` (any run for None: a write not made by a run)."""
    return true() if attempt is None else col(Job.attempt) == attempt


__all__ = [
    "FINAL_STATUSES",
    "INTERRUPTED_ERROR",
    "RESTARTED",
    "WORKER_LOST",
    "WORKER_LOST_ERROR",
    "Interruption",
    "JobStore",
    "Notifier",
    "Outbox",
    "OwnerUsage",
    "Quota",
    "QuotaExceededError",
]
