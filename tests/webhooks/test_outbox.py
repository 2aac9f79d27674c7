"""A job's end and the deliveries it owes are one transaction; each webhook gets the events
and datasets it asked for, of its owner's jobs only; progress at most every 10 s per job
and webhook, older progress not yet sent replaced by the newer state."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, event
from sqlmodel import Session, col, select

from jobs_ui.jobs.store import RESTARTED, JobStore
from jobs_ui.models import Job, JobKind, JobStatus, job_public
from jobs_ui.webhooks.endpoints import WebhookEndpoints
from jobs_ui.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEvent
from jobs_ui.webhooks.outbox import DeliveryOutbox

ALL_ENDS = [WebhookEvent.JOB_COMPLETED, WebhookEvent.JOB_FAILED, WebhookEvent.JOB_CANCELLED]


def hook(engine: Engine, *events: WebhookEvent, owner: str = "ann", datasets=None) -> uuid.UUID:  # type: ignore[no-untyped-def]
    endpoints = WebhookEndpoints(engine)
    made = endpoints.create(
        owner=owner, url="https://receiver.example/in", events=events, datasets=datasets, most=50
    )
    return made.id


def running(store: JobStore, *, owner: str = "ann", dataset: str = "contacts") -> Job:
    job = store.create(kind=JobKind.EXPORT, dataset=dataset, owner=owner, params={})
    started = store.start(job.id)
    assert started is not None
    return started


def deliveries(engine: Engine, webhook_id: uuid.UUID | None = None) -> list[WebhookDelivery]:
    query = select(WebhookDelivery).order_by(col(WebhookDelivery.created_at))
    if webhook_id is not None:
        query = query.where(col(WebhookDelivery.webhook_id) == webhook_id)
    with Session(engine) as session:
        return list(session.exec(query).all())


@pytest.fixture
def outbox() -> DeliveryOutbox:
    return DeliveryOutbox()


@pytest.fixture
def store(engine: Engine, outbox: DeliveryOutbox) -> JobStore:
    return JobStore(engine, outbox=outbox)


def test_the_end_writes_its_delivery_holding_the_job_json_as_the_api_shows_it(engine, store):
    webhook_id = hook(engine, WebhookEvent.JOB_COMPLETED)
    job = running(store)
    done = store.complete(job.id, result={"rowCount": 2, "fileName": "c.csv"}, message="Done")
    assert done is not None
    (delivery,) = deliveries(engine)
    assert (delivery.webhook_id, delivery.job_id) == (webhook_id, job.id)
    assert (delivery.event, delivery.status) == ("job.completed", DeliveryStatus.PENDING)
    again = store.get(job.id)
    assert again is not None
    assert delivery.body == job_public(again).model_dump_json()
    assert json.loads(delivery.body)["status"] == "COMPLETED"
    assert json.loads(delivery.body)["version"] == done.version


class Broken(DeliveryOutbox):
    """Writes its rows, then fails: the transaction must take the job's end back too."""

    def write(self, session: Session, job: Job) -> bool:
        super().write(session, job)
        session.flush()  # the rows reach the database, inside the transaction
        raise RuntimeError("the outbox broke")


def test_the_end_and_its_deliveries_commit_together_or_not_at_all(engine):
    hook(engine, WebhookEvent.JOB_FAILED)
    store = JobStore(engine, outbox=Broken())
    job = store.create(kind=JobKind.EXPORT, dataset="contacts", owner="ann", params={})
    assert store.start(job.id) is not None
    with pytest.raises(RuntimeError):
        store.fail(job.id, error="boom")
    left = store.get(job.id)
    assert left is not None and left.status is JobStatus.PROCESSING
    assert deliveries(engine) == []


def test_every_way_a_job_ends_owes_its_event(engine, store):
    webhook_id = hook(engine, *ALL_ENDS)
    failed = running(store)
    store.fail(failed.id, error="boom")
    cancelled = store.create(kind=JobKind.EXPORT, dataset="contacts", owner="ann", params={})
    store.request_cancel(cancelled.id)  # pending: cancelled at once
    unstarted = store.create(kind=JobKind.EXPORT, dataset="contacts", owner="ann", params={})
    store.fail_unstarted(unstarted.id, error="queue down")
    spent = running(store)
    store.requeue(spent.id, attempt=1, max_attempts=1, why=RESTARTED)  # runs spent: FAILED
    requeued = running(store)
    store.requeue(requeued.id, attempt=1, max_attempts=3, why=RESTARTED)  # not an end
    events = {d.job_id: d.event for d in deliveries(engine, webhook_id)}
    assert events == {
        failed.id: "job.failed",
        cancelled.id: "job.cancelled",
        unstarted.id: "job.failed",
        spent.id: "job.failed",
    }


def test_each_webhook_gets_the_events_and_datasets_it_asked_for_of_its_owner_only(engine, store):
    completed = hook(engine, WebhookEvent.JOB_COMPLETED)
    failed_only = hook(engine, WebhookEvent.JOB_FAILED)
    products_only = hook(engine, WebhookEvent.JOB_COMPLETED, datasets=["products"])
    someone_elses = hook(engine, *ALL_ENDS, owner="bob")
    store.complete(running(store).id, result={}, message="Done")
    store.complete(running(store, dataset="products").id, result={}, message="Done")
    counts = {
        name: len(deliveries(engine, webhook_id))
        for name, webhook_id in {
            "completed": completed,
            "failed_only": failed_only,
            "products_only": products_only,
            "someone_elses": someone_elses,
        }.items()
    }
    assert counts == {"completed": 2, "failed_only": 0, "products_only": 1, "someone_elses": 0}


def test_progress_is_owed_at_most_once_per_interval_per_job_and_webhook(engine, store):
    webhook_id = hook(engine, WebhookEvent.JOB_PROGRESS)
    first, second = running(store), running(store)
    for percent in (10, 20, 30):
        store.report_progress(first.id, progress=percent, message="Working")
    store.report_progress(second.id, progress=5, message="Working")
    owed = deliveries(engine, webhook_id)
    assert [(d.job_id, json.loads(d.body)["progress"]) for d in owed] == [
        (first.id, 10),
        (second.id, 5),
    ]
    assert all(json.loads(d.body)["status"] == "PROCESSING" for d in owed)


def test_newer_state_replaces_progress_not_yet_sent(engine, outbox, store):
    outbox.progress_interval = timedelta(0)  # every progress write owes one
    webhook_id = hook(engine, WebhookEvent.JOB_PROGRESS, WebhookEvent.JOB_COMPLETED)
    job = running(store)
    store.report_progress(job.id, progress=10, message="Working")
    store.report_progress(job.id, progress=20, message="Working")
    store.complete(job.id, result={}, message="Done")
    owed = [(d.event, d.status) for d in deliveries(engine, webhook_id)]
    assert owed == [
        ("job.progress", DeliveryStatus.SUPERSEDED),
        ("job.progress", DeliveryStatus.SUPERSEDED),
        ("job.completed", DeliveryStatus.PENDING),
    ]


def test_writing_deliveries_wakes_the_loop_after_the_commit_and_only_then(engine, outbox, store):
    seen: list[int] = []
    outbox.wake = lambda: seen.append(len(deliveries(engine)))  # what is committed by then
    job = running(store)
    store.complete(job.id, result={}, message="Done")
    assert seen == [], "nothing owed: no wake"
    hook(engine, WebhookEvent.JOB_COMPLETED)
    store.complete(running(store).id, result={}, message="Done")
    assert seen == [1]


@pytest.fixture
def failing_outbox(request: pytest.FixtureRequest, engine: Engine, monkeypatch) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """Writing deliveries fails: in Python (a bug), or in the database (a statement that
    fails inside the job's transaction, which on Postgres aborts all of it)."""
    how: str = request.param
    if how == "python":

        def broken(_job: Job) -> None:
            raise RuntimeError("the outbox broke")

        monkeypatch.setattr("jobs_ui.webhooks.outbox.job_public", broken)
        yield how
        return

    def failing(_conn, _cursor, statement: str, parameters, _context, _many):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("INSERT INTO WEBHOOK_DELIVERY"):
            return "INSERT INTO no_such_table VALUES (1)", ()
        return statement, parameters

    event.listen(engine, "before_cursor_execute", failing, retval=True)
    try:
        yield how
    finally:
        event.remove(engine, "before_cursor_execute", failing)


@pytest.mark.parametrize("failing_outbox", ["python", "database"], indirect=True)
def test_a_failing_progress_delivery_never_fails_the_jobs_progress(engine, store, failing_outbox):
    hook(engine, WebhookEvent.JOB_PROGRESS)
    job = running(store)
    reported = store.report_progress(job.id, progress=40, message="Working")
    assert reported is not None and reported.progress == 40
    kept = store.get(job.id)
    assert kept is not None and (kept.status, kept.progress) == (JobStatus.PROCESSING, 40)
    assert deliveries(engine) == []
    # The job goes on: its next change commits as ever.
    assert store.report_progress(job.id, progress=50, message="Working") is not None


@pytest.mark.parametrize("failing_outbox", ["python", "database"], indirect=True)
def test_a_failing_end_delivery_still_takes_the_end_back(engine, store, failing_outbox):
    hook(engine, WebhookEvent.JOB_COMPLETED)
    job = running(store)
    with pytest.raises(Exception):  # noqa: B017 - whichever the failure is, it reaches the caller
        store.complete(job.id, result={}, message="Done")
    left = store.get(job.id)
    assert left is not None and left.status is JobStatus.PROCESSING
    assert deliveries(engine) == []
