"""A running job's pace: rows per second and seconds left, from the reporter to the row."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from jobs_ui.db import make_engine, migrate
from jobs_ui.jobs.progress import MAX_ETA_SECONDS, StoreProgressReporter
from jobs_ui.jobs.store import JobStore
from jobs_ui.models import Job, JobKind, JobStatus


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> JobStore:
    engine = make_engine(f"sqlite:///{tmp_path / 'jobs.db'}")
    migrate(engine)
    return JobStore(engine)


@pytest.fixture
def job_id(store: JobStore) -> uuid.UUID:
    job = store.create(kind=JobKind.EXPORT, dataset="contacts", owner="ann", params={})
    assert store.start(job.id) is not None
    return job.id


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def reporter(store: JobStore, job_id: uuid.UUID, clock: Clock) -> StoreProgressReporter:
    # Made as the job starts, as the runner does; every update is written (no throttle).
    return StoreProgressReporter(store, job_id, min_interval=0.0, clock=clock)


def row(store: JobStore, job_id: uuid.UUID) -> Job:
    job = store.get(job_id)
    assert job is not None
    return job


def drive(
    reporter: StoreProgressReporter,
    clock: Clock,
    *,
    until: float,
    percent: Callable[[float], float] = lambda t: t,
    rows: Callable[[float], int | None] = lambda t: int(100 * t),
    step: float = 0.5,
) -> list[tuple[float | None, int | None]]:
    """Report every `step` seconds up to `until`; returns what the row said after each."""
    seen = []
    while clock.now + step <= until + 1e-9:
        clock.now += step
        reporter.update(int(percent(clock.now)), "Working", rows=rows(clock.now))
        seen.append((reporter.rows_per_second, reporter.eta_seconds))
    return seen


def test_nothing_is_said_in_the_first_seconds(store, job_id, reporter, clock):
    seen = drive(reporter, clock, until=2.5)
    assert seen and all(pace == (None, None) for pace in seen)
    job = row(store, job_id)
    assert job.progress == 2  # the progress itself is written as before
    assert (job.rows_per_second, job.eta_seconds) == (None, None)


def test_a_steady_pace_gives_the_right_rate_and_eta(store, job_id, reporter, clock):
    # 1 point and 100 rows a second: at 20 % after 20 s, 80 s are left. (The percentage
    # comes in whole points, so its pace is a little under what it is: within 5 %.)
    drive(reporter, clock, until=20)
    job = row(store, job_id)
    assert job.status is JobStatus.PROCESSING
    assert job.rows_per_second == pytest.approx(100.0)
    assert job.eta_seconds == pytest.approx(80, rel=0.05)
    drive(reporter, clock, until=50)
    assert row(store, job_id).eta_seconds == pytest.approx(50, rel=0.05)


def test_no_eta_under_two_points_of_progress(store, job_id, reporter, clock):
    drive(reporter, clock, until=10, percent=lambda t: 1)
    job = row(store, job_id)
    assert job.eta_seconds is None
    assert job.rows_per_second == pytest.approx(100.0)  # rows are counted all the same


def test_no_rate_before_any_row_or_without_rows(store, job_id, reporter, clock):
    drive(reporter, clock, until=10, rows=lambda t: 0)
    assert row(store, job_id).rows_per_second is None  # no rows yet
    assert row(store, job_id).eta_seconds == pytest.approx(90, rel=0.05)
    drive(reporter, clock, until=20, rows=lambda t: None)
    job = row(store, job_id)
    assert job.rows_per_second is None and job.eta_seconds == pytest.approx(80, rel=0.05)


def test_uneven_batches_are_smoothed(store, job_id, reporter, clock):
    # Batches of 0 and 100 rows by turns every half second: 100 rows a second.
    counted = 0

    def lumpy(t: float) -> int:
        nonlocal counted
        counted += 100 if round(t * 2) % 2 == 0 else 0
        return counted

    seen = drive(reporter, clock, until=40, rows=lumpy)
    later = seen[10:]  # from 5.5 s on
    assert all(rate is not None and 85 <= rate <= 115 for rate, _ in later)
    etas = [eta for _, eta in later]
    assert all(eta is not None for eta in etas)
    # Counting down, a second a second or so: never back up by more than a rounding.
    assert all(b <= a + 1 for a, b in itertools.pairwise(etas))


def test_a_change_of_pace_moves_the_eta_gradually_and_it_settles(store, job_id, reporter, clock):
    def slowing(t: float) -> float:  # 1 point a second for 20 s, then half a point a second
        return t if t <= 20 else 20 + (t - 20) / 2

    before = drive(reporter, clock, until=20, percent=slowing)[-1][1]
    assert before == pytest.approx(80, rel=0.05)
    after = drive(reporter, clock, until=21, percent=slowing)
    assert all(eta is not None and abs(eta - before) <= 5 for _, eta in after)
    drive(reporter, clock, until=90, percent=slowing)
    # At 55 % with half a point a second: 90 s left.
    assert row(store, job_id).eta_seconds == pytest.approx(90, rel=0.05)


def test_a_new_step_counts_its_rows_afresh(store, job_id, reporter, clock):
    drive(reporter, clock, until=10)
    assert row(store, job_id).rows_per_second == pytest.approx(100.0)
    # Step two counts from 0 again, 10 rows a second.
    start = clock.now
    seen = drive(reporter, clock, until=12, rows=lambda t: int(10 * (t - start)))
    assert all(rate is None for rate, _ in seen)
    drive(reporter, clock, until=20, rows=lambda t: int(10 * (t - start)))
    assert row(store, job_id).rows_per_second == pytest.approx(10.0)


def test_a_stalled_job_has_a_growing_bounded_eta(store, job_id, reporter, clock):
    drive(reporter, clock, until=50)
    stalled = drive(reporter, clock, until=120, percent=lambda t: 50)
    etas = [eta for _, eta in stalled]
    assert all(eta is not None for eta in etas)
    assert etas == sorted(etas) and etas[-1] > 50
    clock.now += 10**9
    reporter.update(50, "Working", force=True)
    assert row(store, job_id).eta_seconds == MAX_ETA_SECONDS


def test_held_writes_keep_the_pace_for_the_next_write(store, job_id, reporter, clock):
    drive(reporter, clock, until=5)
    with reporter.writes_held():
        drive(reporter, clock, until=20)
        held = row(store, job_id).eta_seconds  # as it was when writes were held
        assert held == pytest.approx(95, rel=0.05)
    reporter.update(21, "Working", rows=2100)
    assert row(store, job_id).eta_seconds == pytest.approx(79, rel=0.05)


@pytest.mark.parametrize(
    "end",
    [
        lambda store, job_id: store.complete(job_id, result={"rowCount": 1}, message="Done"),
        lambda store, job_id: store.fail(job_id, error="boom"),
        lambda store, job_id: store.mark_cancelled(job_id),
        lambda store, job_id: store.requeue_stale(older_than=timedelta(seconds=-1), max_attempts=1),
        lambda store, job_id: store.requeue_interrupted(max_attempts=1),
    ],
    ids=["completed", "failed", "cancelled", "worker-lost", "interrupted"],
)
def test_the_pace_is_cleared_when_the_job_ends(store, job_id, reporter, clock, end):
    drive(reporter, clock, until=20)
    job = row(store, job_id)
    assert job.rows_per_second is not None and job.eta_seconds is not None
    end(store, job_id)
    job = row(store, job_id)
    assert job.status.is_final
    assert (job.rows_per_second, job.eta_seconds) == (None, None)


def test_the_pace_is_cleared_when_the_job_is_queued_again(store, job_id, reporter, clock):
    drive(reporter, clock, until=20)
    store.requeue_interrupted(max_attempts=2)
    job = row(store, job_id)
    assert (job.status, job.attempt, job.progress) == (JobStatus.PENDING, 2, 0)
    assert (job.rows_per_second, job.eta_seconds) == (None, None)
