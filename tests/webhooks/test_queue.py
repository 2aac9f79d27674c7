"""Claims: at most one delivery in flight per endpoint whoever claims, a dead claim's
attempt recorded as interrupted and its delivery sent again, outcomes recorded only by the
claim that holds them, retries on the schedule, given up after the window."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import Engine, text, update
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, select

from jobs_ui.db import begin_writing
from jobs_ui.jobs.store import JobStore
from jobs_ui.models import JobKind, as_utc, utc_now
from jobs_ui.webhooks.endpoints import WebhookEndpoints
from jobs_ui.webhooks.models import (
    DeliveryAttempt,
    DeliveryStatus,
    Webhook,
    WebhookDelivery,
    WebhookEvent,
)
from jobs_ui.webhooks.outbox import DeliveryOutbox
from jobs_ui.webhooks.queue import INTERRUPTED, STOPPED, DeliveryQueue, sweep_ended
from jobs_ui.webhooks.schedule import RetrySchedule
from jobs_ui.webhooks.sender import Outcome

LEASE = timedelta(minutes=1)
OK = Outcome(status_code=200, error=None, duration_ms=12)
DOWN = Outcome(status_code=500, error="Answered 500.", duration_ms=7)


def queue(engine: Engine, **overrides) -> DeliveryQueue:  # type: ignore[no-untyped-def]
    schedule = overrides.pop("schedule", RetrySchedule(first=timedelta(seconds=10)))
    return DeliveryQueue(engine, schedule=schedule, lease=overrides.pop("lease", LEASE))


@pytest.fixture
def endpoints(engine: Engine) -> WebhookEndpoints:
    return WebhookEndpoints(engine)


def owe(engine: Engine, webhook_id: uuid.UUID, count: int = 1) -> list[uuid.UUID]:
    """`count` ended jobs' deliveries to the webhook (through the store, as in the app)."""
    store = JobStore(engine, outbox=DeliveryOutbox())
    for _ in range(count):
        job = store.create(kind=JobKind.EXPORT, dataset="contacts", owner="ann", params={})
        store.request_cancel(job.id)
    with Session(engine) as session:
        query = (
            select(WebhookDelivery.id)
            .where(col(WebhookDelivery.webhook_id) == webhook_id)
            .order_by(col(WebhookDelivery.created_at))
        )
        return list(session.exec(query).all())


def endpoint(endpoints: WebhookEndpoints) -> uuid.UUID:
    return endpoints.create(
        owner="ann",
        url="https://receiver.example/in",
        events=[WebhookEvent.JOB_CANCELLED],
        datasets=None,
        most=50,
    ).id


def row(engine: Engine, delivery_id: uuid.UUID) -> WebhookDelivery:
    with Session(engine) as session:
        found = session.get(WebhookDelivery, delivery_id)
        assert found is not None
        return found


def attempts(engine: Engine, delivery_id: uuid.UUID) -> list[DeliveryAttempt]:
    with Session(engine) as session:
        query = select(DeliveryAttempt).where(col(DeliveryAttempt.delivery_id) == delivery_id)
        return list(session.exec(query.order_by(col(DeliveryAttempt.id))).all())


def test_one_delivery_in_flight_per_endpoint_however_many_loops_claim(engine, endpoints):
    first_endpoint, second_endpoint = endpoint(endpoints), endpoint(endpoints)
    a1, a2 = owe(engine, first_endpoint, 2)[:2]  # both endpoints get both jobs' deliveries
    b1 = owe(engine, second_endpoint)[0]
    one, other = queue(engine), queue(engine)  # two processes' loops
    claims = one.claim_due(10)
    assert {c.delivery_id for c in claims} == {a1, b1}, "each endpoint's first, not a2"
    assert other.claim_due(10) == [], "both endpoints are in flight"
    first = next(c for c in claims if c.delivery_id == a1)
    assert one.record(first, OK) is DeliveryStatus.DELIVERED
    (next_claim,) = other.claim_due(10)
    assert next_claim.delivery_id == a2, "the endpoint is free again: its next delivery"


def test_a_claim_whose_process_died_is_taken_again_and_its_attempt_marked_interrupted(
    engine, endpoints
):
    webhook_id = endpoint(endpoints)
    (delivery_id,) = owe(engine, webhook_id)
    dead = queue(engine, lease=timedelta(0))  # its lease is over at once, as if it died
    (lost,) = dead.claim_due(1)
    alive = queue(engine)
    (taken,) = alive.claim_due(1)
    assert taken.delivery_id == delivery_id and taken.token != lost.token
    (interrupted,) = attempts(engine, delivery_id)
    assert (interrupted.error, interrupted.status_code) == (INTERRUPTED, None)
    assert dead.record(lost, OK) is None, "a lost claim records nothing"
    assert alive.record(taken, OK) is DeliveryStatus.DELIVERED
    done = row(engine, delivery_id)
    assert (done.status, done.attempts, done.lease_token) == (DeliveryStatus.DELIVERED, 2, None)
    assert [a.status_code for a in attempts(engine, delivery_id)] == [None, 200]


def test_failures_are_tried_again_on_the_schedule_then_given_up(engine, endpoints):
    (delivery_id,) = owe(engine, endpoint(endpoints))
    waits = queue(engine, schedule=RetrySchedule(first=timedelta(seconds=10)))
    (claim,) = waits.claim_due(1)
    before = utc_now()
    assert waits.record(claim, DOWN) is DeliveryStatus.PENDING
    due = as_utc(row(engine, delivery_id).next_attempt_at)  # type: ignore[arg-type]
    assert timedelta(seconds=9) < due - before < timedelta(seconds=12)
    assert waits.claim_due(1) == [], "not due yet"
    with Session(engine) as session:  # time passes
        session.exec(update(WebhookDelivery).values(next_attempt_at=utc_now()))
        session.commit()
    (claim,) = waits.claim_due(1)
    assert waits.record(claim, DOWN) is DeliveryStatus.PENDING
    due = as_utc(row(engine, delivery_id).next_attempt_at)  # type: ignore[arg-type]
    assert timedelta(seconds=38) < due - utc_now() < timedelta(seconds=42), "4 times longer"
    short = queue(engine, schedule=RetrySchedule(give_up_after=timedelta(seconds=1)))
    with Session(engine) as session:
        session.exec(update(WebhookDelivery).values(next_attempt_at=utc_now()))
        session.commit()
    (claim,) = short.claim_due(1)
    assert short.record(claim, DOWN) is DeliveryStatus.FAILED
    given_up = row(engine, delivery_id)
    assert (given_up.attempts, given_up.next_attempt_at) == (3, None)
    assert given_up.ended_at is not None and short.claim_due(1) == []
    assert [a.error for a in attempts(engine, delivery_id)] == ["Answered 500."] * 3


def test_stopping_mid_attempt_records_it_and_leaves_the_delivery_due(engine, endpoints):
    (delivery_id,) = owe(engine, endpoint(endpoints))
    stopping = queue(engine)
    (claim,) = stopping.claim_due(1)
    stopping.release(claim)
    assert [a.error for a in attempts(engine, delivery_id)] == [STOPPED]
    (again,) = queue(engine).claim_due(1)
    assert again.delivery_id == delivery_id


def test_freeing_the_endpoints_at_start_lets_a_dead_runs_claims_go_at_once(engine, endpoints):
    (delivery_id,) = owe(engine, endpoint(endpoints))
    assert len(queue(engine).claim_due(1)) == 1  # then the process dies
    restarted = queue(engine)
    assert restarted.claim_due(1) == [], "the lease holds for a minute"
    assert restarted.free_endpoints() == 1
    (claim,) = restarted.claim_due(1)
    assert claim.delivery_id == delivery_id
    assert [a.error for a in attempts(engine, delivery_id)] == [INTERRUPTED]


def test_a_deleted_webhook_takes_its_deliveries_and_an_attempt_in_flight_records_nothing(
    engine, endpoints
):
    webhook_id = endpoint(endpoints)
    kept = endpoint(endpoints)
    (delivery_id,) = owe(engine, webhook_id)
    sending = queue(engine)
    claim = next(c for c in sending.claim_due(5) if c.webhook_id == webhook_id)
    assert endpoints.delete(webhook_id)
    assert sending.record(claim, OK) is None
    with Session(engine) as session:
        assert session.get(WebhookDelivery, delivery_id) is None
        left = session.exec(select(WebhookDelivery.webhook_id)).all()
    assert set(left) == {kept}


def test_the_sweep_deletes_ended_deliveries_with_their_attempts_and_keeps_pending_ones(
    engine, endpoints
):
    delivered, pending = owe(engine, endpoint(endpoints), 2)
    sweeping = queue(engine)
    (claim,) = sweeping.claim_due(1)
    sweeping.record(claim, OK)
    assert sweep_ended(engine, ended_before=utc_now() - timedelta(days=1)) == 0, "too recent"
    assert sweep_ended(engine, ended_before=utc_now() + timedelta(seconds=1)) == 1
    with Session(engine) as session:
        assert session.get(WebhookDelivery, delivered) is None
        assert session.get(WebhookDelivery, pending) is not None
    assert attempts(engine, delivered) == []


def test_loops_racing_on_one_endpoint_send_each_delivery_once_one_at_a_time(engine, endpoints):
    webhook_id = endpoint(endpoints)
    owed = set(owe(engine, webhook_id, 12))
    in_flight, most, sent = 0, 0, []
    lock = threading.Lock()

    def loop() -> None:
        nonlocal in_flight, most
        mine = queue(engine)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with lock:
                if len(sent) == len(owed):
                    return
            for claim in mine.claim_due(4):
                with lock:
                    in_flight += 1
                    most = max(most, in_flight)
                    sent.append(claim.delivery_id)
                time.sleep(0.005)  # the request
                with lock:
                    in_flight -= 1
                mine.record(claim, OK)

    threads = [threading.Thread(target=loop) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most == 1
    assert sorted(sent) == sorted(owed), "each once, none left"


def hold_the_endpoint(engine: Engine, webhook_id: uuid.UUID, seconds: float) -> threading.Thread:
    """Another transaction holding the endpoint's row (on SQLite, the write lock) for a
    while, as a job's long import transaction or another loop's claim does; started, and
    holding, when this returns."""
    holding = threading.Event()

    def hold() -> None:
        with Session(engine) as session:
            begin_writing(session)
            session.exec(
                update(Webhook).where(col(Webhook.id) == webhook_id).values(url=Webhook.url)
            )
            holding.set()
            time.sleep(seconds)
            session.commit()

    thread = threading.Thread(target=hold)
    thread.start()
    assert holding.wait(10)
    return thread


def test_a_claim_that_waited_for_the_lock_gets_a_lease_that_starts_after_the_wait(
    engine, endpoints
):
    webhook_id = endpoint(endpoints)
    owe(engine, webhook_id)
    lease = timedelta(seconds=2)
    holder = hold_the_endpoint(engine, webhook_id, seconds=2.5)  # past the lease's length
    # SQLite: waits for the write lock; Postgres: skips the row someone holds.
    waited = queue(engine, lease=lease).claim_due(1)
    holder.join()
    other = queue(engine, lease=lease).claim_due(1)  # another loop, at once
    claims = waited + other
    assert len(claims) == 1, "one request in flight to the endpoint, never two"
    assert claims[0].lease_until > utc_now(), "its lease was not over when it was taken"


def test_renewing_a_claim_keeps_its_endpoint_and_a_lost_claim_is_not_renewed(engine, endpoints):
    webhook_id = endpoint(endpoints)
    (delivery_id,) = owe(engine, webhook_id)
    sending = queue(engine)
    (claim,) = sending.claim_due(1)
    with Session(engine) as session:  # its lease all but over: the claim waited, the send not
        session.exec(update(Webhook).values(lease_until=utc_now() - timedelta(seconds=1)))
        session.commit()
    renewed = sending.renew(claim)
    assert renewed is not None and renewed.token == claim.token
    assert renewed.lease_until - utc_now() > LEASE - timedelta(seconds=5)
    assert renewed.attempted_at > claim.attempted_at
    assert queue(engine).claim_due(1) == [], "still in flight"
    assert sending.record(renewed, OK) is DeliveryStatus.DELIVERED
    assert [as_utc(a.attempted_at) for a in attempts(engine, delivery_id)] == [renewed.attempted_at]
    (second,) = owe(engine, webhook_id)[1:]
    dead = queue(engine, lease=timedelta(0))
    (lost,) = dead.claim_due(1)
    (taken,) = queue(engine).claim_due(1)
    assert taken.delivery_id == second
    assert dead.renew(lost) is None, "another loop has the endpoint now"


@pytest.mark.parametrize("dies", ["interrupted", "released"])
def test_a_delivery_whose_attempts_keep_dying_is_given_up_when_claimed_past_the_window(
    engine, endpoints, dies
):
    webhook_id = endpoint(endpoints)
    old, fresh = owe(engine, webhook_id, 2)
    dying = queue(engine, lease=timedelta(0) if dies == "interrupted" else LEASE)
    (claim,) = dying.claim_due(1)
    assert claim.delivery_id == old
    if dies == "released":
        dying.release(claim)  # the process stopping: due again at once, no outcome
    with Session(engine) as session:  # a day and more goes by like this
        session.exec(
            update(WebhookDelivery)
            .where(col(WebhookDelivery.id) == old)
            .values(created_at=utc_now() - timedelta(hours=25))
        )
        session.commit()
    (taken,) = queue(engine).claim_due(1)
    assert taken.delivery_id == fresh, "the old one is not sent again"
    given_up = row(engine, old)
    assert (given_up.status, given_up.next_attempt_at, given_up.lease_token) == (
        DeliveryStatus.FAILED,
        None,
        None,
    )
    assert given_up.ended_at is not None and given_up.attempts == 1
    said = INTERRUPTED if dies == "interrupted" else STOPPED
    assert [a.error for a in attempts(engine, old)] == [said]


@pytest.mark.parametrize("progress_attempt", ["failed", "died"])
def test_progress_in_flight_when_its_job_ends_is_never_sent_after_the_end(
    engine, endpoints, progress_attempt
):
    webhook_id = endpoints.create(
        owner="ann",
        url="https://receiver.example/in",
        events=[WebhookEvent.JOB_PROGRESS, WebhookEvent.JOB_COMPLETED],
        datasets=None,
        most=50,
    ).id
    store = JobStore(engine, outbox=DeliveryOutbox(progress_interval=timedelta(0)))
    job = store.create(kind=JobKind.EXPORT, dataset="contacts", owner="ann", params={})
    assert store.start(job.id) is not None
    store.report_progress(job.id, progress=10, message="Working")
    sending = queue(engine, lease=timedelta(0) if progress_attempt == "died" else LEASE)
    (progress,) = sending.claim_due(1)  # in flight, so the end below does not replace it
    store.complete(job.id, result={}, message="Done")
    if progress_attempt == "failed":
        assert sending.record(progress, DOWN) is DeliveryStatus.PENDING
    with Session(engine) as session:  # the progress's retry falls due before the end
        session.exec(
            update(WebhookDelivery)
            .where(col(WebhookDelivery.id) == progress.delivery_id)
            .values(next_attempt_at=utc_now() - timedelta(minutes=1))
        )
        session.commit()
    (claim,) = queue(engine).claim_due(1)
    end = row(engine, claim.delivery_id)
    assert (end.event, end.webhook_id) == ("job.completed", webhook_id)
    stale = row(engine, progress.delivery_id)
    assert (stale.status, stale.next_attempt_at) == (DeliveryStatus.SUPERSEDED, None)
    assert stale.lease_token is None and stale.ended_at is not None


def row_is_locked(engine: Engine, delivery_id: uuid.UUID) -> bool:
    """Whether another transaction holds the delivery's row (Postgres)."""
    with engine.connect() as connection:
        try:
            connection.execute(
                text("SELECT id FROM webhook_delivery WHERE id = :id FOR UPDATE NOWAIT"),
                {"id": delivery_id},
            )
        except OperationalError:
            return True
        finally:
            connection.rollback()
    return False


@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
@pytest.mark.parametrize("writer", ["delete", "record"])
def test_deletes_and_records_lock_the_endpoint_before_its_deliveries(engine, endpoints, writer):
    """The order claims take (the endpoint, then its delivery): a writer taking them the
    other way round could deadlock against one."""
    webhook_id = endpoint(endpoints)
    (delivery_id,) = owe(engine, webhook_id)
    sending = queue(engine)
    (claim,) = sending.claim_due(1)
    done: list[object] = []
    write = {
        "delete": lambda: done.append(endpoints.delete(webhook_id)),
        "record": lambda: done.append(sending.record(claim, OK)),
    }[writer]
    holder = hold_the_endpoint(engine, webhook_id, seconds=1.0)
    thread = threading.Thread(target=write)
    thread.start()
    time.sleep(0.4)  # the writer waits for the endpoint's row meanwhile
    try:
        assert not row_is_locked(engine, delivery_id), "it holds the delivery while it waits"
    finally:
        holder.join()
        thread.join(10)
    expected = {"delete": True, "record": DeliveryStatus.DELIVERED}[writer]
    assert done == [expected]
