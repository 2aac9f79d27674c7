"""Job persistence: forward-only status, version bumps, notifications, recovery."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from jobs_ui.db import make_engine, migrate
from jobs_ui.jobs.store import INTERRUPTED_ERROR, JobStore
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


def test_fail_interrupted_ends_only_processing_jobs(store):
    running, pending = new_job(store), new_job(store)
    store.start(running)
    assert store.fail_interrupted() == [running]
    job = store.get(running)
    assert (job.status, job.error) == (JobStatus.FAILED, INTERRUPTED_ERROR)
    assert job.finished_at is not None
    assert store.get(pending).status is JobStatus.PENDING


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
