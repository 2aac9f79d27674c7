"""Job persistence: forward-only status, version bumps, notifications, recovery: runs cut
short are queued again, and a run given up on writes nothing."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from jobs_ui.db import make_engine, migrate
from jobs_ui.jobs.execution import retry_can_help
from jobs_ui.jobs.store import (
    INTERRUPTED_ERROR,
    RESTARTED,
    WORKER_LOST,
    WORKER_LOST_ERROR,
    JobStore,
)
from jobs_ui.models import JobKind, JobStatus


@pytest.fixture
def notified() -> list[tuple[uuid.UUID, int]]:
    return []


@pytest.fixture
def store(tmp_path: Path, notified: list[tuple[uuid.UUID, int]]) -> JobStore:
    engine = make_engine(f"sqlite:///{tmp_path / 'jobs.db'}")
    migrate(engine)
    return JobStore(engine, notify=lambda job_id, version: notified.append((job_id, version)))


def new_job(store: JobStore, owner: str = "ann") -> uuid.UUID:
    job = store.create(kind=JobKind.EXPORT, dataset="contacts", owner=owner, params={})
    return job.id


def test_every_change_bumps_version_and_notifies_after_commit(store, notified):
    job_id = new_job(store)
    store.start(job_id)
    store.report_progress(job_id, progress=40, message="Halfway")
    done = store.complete(job_id, result={"rowCount": 3}, message="Done")
    assert done is not None
    assert (done.status, done.progress, done.version) == (JobStatus.COMPLETED, 100, 4)
    assert notified == [(job_id, 1), (job_id, 2), (job_id, 3), (job_id, 4)]
    assert store.get(job_id).result == {"rowCount": 3}


def test_progress_never_goes_backwards_and_stays_below_100_while_running(store):
    job_id = new_job(store)
    store.start(job_id)
    store.report_progress(job_id, progress=60, message="a")
    job = store.report_progress(job_id, progress=30, message="b")
    assert job.progress == 60
    job = store.report_progress(job_id, progress=250, message="c")
    assert job.progress == 99


def test_status_only_moves_forward(store):
    job_id = new_job(store)
    store.start(job_id)
    store.fail(job_id, error="boom")
    assert store.start(job_id) is None
    assert store.complete(job_id, result={}, message="x") is None
    assert store.report_progress(job_id, progress=10, message="x") is None
    assert store.get(job_id).status is JobStatus.FAILED


def test_cancel_pending_is_immediate_and_running_is_a_request(store):
    pending = new_job(store)
    assert store.request_cancel(pending).status is JobStatus.CANCELLED
    assert store.start(pending) is None

    running = new_job(store)
    store.start(running)
    job = store.request_cancel(running)
    assert job.status is JobStatus.PROCESSING
    assert job.cancel_requested and store.is_cancel_requested(running)


def test_an_interrupted_job_is_queued_again_until_its_runs_are_spent(store):
    running, pending = new_job(store), new_job(store)
    store.start(running)
    store.report_progress(running, progress=40, message="Halfway")
    for run in (2, 3):
        (queued,) = store.requeue_interrupted(max_attempts=3)
        assert queued.id == running
        assert (queued.status, queued.attempt, queued.progress) == (JobStatus.PENDING, run, 0)
        assert queued.message == RESTARTED.again and queued.started_at is None
        started = store.start(running)
        assert (started.status, started.message) == (JobStatus.PROCESSING, RESTARTED.again)
    (ended,) = store.requeue_interrupted(max_attempts=3)
    assert ended.status is JobStatus.FAILED and ended.finished_at is not None
    assert ended.error.startswith(INTERRUPTED_ERROR) and "ran 3 times" in ended.error
    assert retry_can_help(ended.error)
    assert store.get(pending).status is JobStatus.PENDING  # never started: left to run


def test_with_one_run_allowed_an_interrupted_job_fails_as_before(store):
    running = new_job(store)
    store.start(running)
    (ended,) = store.requeue_interrupted(max_attempts=1)
    assert (ended.status, ended.error, ended.attempt) == (JobStatus.FAILED, INTERRUPTED_ERROR, 1)


def test_a_cancel_asked_for_during_the_interrupted_run_is_kept(store):
    running = new_job(store)
    store.start(running)
    store.request_cancel(running)
    (ended,) = store.requeue_interrupted(max_attempts=3)
    assert (ended.status, ended.attempt) == (JobStatus.CANCELLED, 1)


def test_a_run_given_up_on_can_change_nothing(store):
    job_id = new_job(store)
    store.start(job_id)
    (queued,) = store.requeue_stale(older_than=timedelta(seconds=-1), max_attempts=3)
    assert (queued.status, queued.attempt, queued.message) == (
        JobStatus.PENDING,
        2,
        WORKER_LOST.again,
    )
    store.start(job_id)
    # The first run wakes up: none of its writes land on the second run's job.
    assert store.report_progress(job_id, progress=80, message="old", attempt=1) is None
    assert not store.beat(job_id, 1)
    assert store.complete(job_id, result={}, message="old", attempt=1) is None
    assert store.fail(job_id, error="old", attempt=1) is None
    assert store.mark_cancelled(job_id, attempt=1) is None
    assert store.requeue(job_id, attempt=1, max_attempts=3, why=RESTARTED) is None
    assert store.get(job_id).status is JobStatus.PROCESSING
    assert store.report_progress(job_id, progress=50, message="new", attempt=2).progress == 50
    done = store.complete(job_id, result={"rowCount": 1}, message="Done", attempt=2)
    assert (done.status, done.attempt) == (JobStatus.COMPLETED, 2)


def test_the_reaper_leaves_jobs_that_still_beat(store):
    job_id = new_job(store)
    store.start(job_id)
    assert store.requeue_stale(older_than=timedelta(minutes=5), max_attempts=3) == []
    assert store.get(job_id).status is JobStatus.PROCESSING
    assert store.beat(job_id, 1)


def test_spent_worker_runs_end_failed_saying_so(store):
    job_id = new_job(store)
    store.start(job_id)
    (ended,) = store.requeue_stale(older_than=timedelta(seconds=-1), max_attempts=1)
    assert (ended.status, ended.error) == (JobStatus.FAILED, WORKER_LOST_ERROR)


def test_list_for_owner_is_newest_first_and_private(store):
    first, second = new_job(store, "ann"), new_job(store, "ann")
    bobs = new_job(store, "bob")
    assert [job.id for job in store.list_jobs(owner="ann")] == [second, first]
    assert [job.id for job in store.list_jobs(owner=None)] == [bobs, second, first]


def test_list_pages_by_keyset_and_filters(store):
    made = [new_job(store, "ann") for _ in range(5)]
    page = store.list_jobs(owner="ann", limit=2)
    assert [job.id for job in page] == made[:-3:-1]
    last = page[-1]
    rest = store.list_jobs(owner="ann", limit=10, after=(last.created_at, last.id))
    assert [job.id for job in rest] == made[-3::-1]
    store.start(made[0])
    assert [j.id for j in store.list_jobs(owner="ann", status=JobStatus.PROCESSING)] == [made[0]]
    assert store.list_jobs(owner="ann", kind=JobKind.IMPORT) == []
