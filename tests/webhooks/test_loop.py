"""The delivery loop against real receivers: woken at once by its own process's deliveries,
retries falling due on time without a wake, one endpoint that hangs holding up no other,
and a stop mid-attempt recorded and sent again by the next run, under the same id."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from jobs_ui.jobs.store import JobStore
from jobs_ui.models import JobKind
from jobs_ui.webhooks.endpoints import WebhookEndpoints
from jobs_ui.webhooks.loop import DeliveryLoop
from jobs_ui.webhooks.models import DeliveryAttempt, DeliveryStatus, WebhookDelivery, WebhookEvent
from jobs_ui.webhooks.outbox import DeliveryOutbox
from jobs_ui.webhooks.queue import STOPPED, Claim, DeliveryQueue
from jobs_ui.webhooks.schedule import RetrySchedule
from jobs_ui.webhooks.sender import Sender
from jobs_ui.webhooks.targets import TargetPolicy
from tests.support.receiver import HANG, Receiver

pytestmark = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)

SLOW_POLL = 30.0  # longer than any test: what arrives sooner was not found by polling


def make_loop(engine: Engine, *, timeout: float = 5.0, first_retry: float = 0.1) -> DeliveryLoop:
    queue = DeliveryQueue(
        engine,
        schedule=RetrySchedule(first=timedelta(seconds=first_retry)),
        lease=timedelta(seconds=timeout + 30),
    )
    policy = TargetPolicy(allow_private=True)
    return DeliveryLoop(queue, lambda: Sender(policy, timeout=timeout), poll_seconds=SLOW_POLL)


@pytest.fixture
def receivers() -> Iterator[list[Receiver]]:
    opened: list[Receiver] = []
    yield opened
    for receiver in opened:
        receiver.__exit__()


def receiving(receivers: list[Receiver], engine: Engine, *answers: object) -> Receiver:
    receiver = Receiver()
    receiver.answers.extend(answers)  # type: ignore[arg-type]
    receivers.append(receiver.__enter__())
    WebhookEndpoints(engine).create(
        owner="ann", url=receiver.url, events=[WebhookEvent.JOB_CANCELLED], datasets=None, most=9
    )
    return receiver


def end_a_job(engine: Engine, outbox: DeliveryOutbox) -> uuid.UUID:
    store = JobStore(engine, outbox=outbox)
    job = store.create(kind=JobKind.EXPORT, dataset="contacts", owner="ann", params={})
    store.request_cancel(job.id)
    return job.id


def outcomes(engine: Engine) -> list[tuple[str, list[int | None], list[str | None]]]:
    with Session(engine) as session:
        rows = session.exec(select(WebhookDelivery).order_by(col(WebhookDelivery.created_at)))
        found = []
        for delivery in rows.all():
            tries = session.exec(
                select(DeliveryAttempt)
                .where(col(DeliveryAttempt.delivery_id) == delivery.id)
                .order_by(col(DeliveryAttempt.id))
            ).all()
            codes = [attempt.status_code for attempt in tries]
            found.append((delivery.status, codes, [attempt.error for attempt in tries]))
        return found


def wait_until(check, timeout: float = 10) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_its_own_process_wakes_it_at_once(engine, receivers):
    receiver = receiving(receivers, engine)
    loop = make_loop(engine)
    outbox = DeliveryOutbox(wake=loop.wake)
    loop.start()
    try:
        time.sleep(0.1)  # it has looked once and sleeps for SLOW_POLL
        started = time.monotonic()
        end_a_job(engine, outbox)
        receiver.wait_for(1, timeout=5)
        assert time.monotonic() - started < SLOW_POLL / 3, "woken, not found by a poll"
        wait_until(lambda: outcomes(engine) == [(DeliveryStatus.DELIVERED, [200], [None])])
    finally:
        loop.stop()


def test_a_retry_goes_when_it_falls_due_without_a_wake(engine, receivers):
    receiver = receiving(receivers, engine, 500)
    loop = make_loop(engine, first_retry=0.3)
    loop.start()
    try:
        end_a_job(engine, DeliveryOutbox(wake=loop.wake))
        first, second = receiver.wait_for(2, timeout=5)
        gap = second.at - first.at
        assert 0.25 < gap < SLOW_POLL / 3, f"due after 0.3 s, not at the next poll: {gap}"
        assert first.message_id == second.message_id
        wait_until(lambda: outcomes(engine)[0][1] == [500, 200])
    finally:
        loop.stop()


def test_an_endpoint_that_hangs_holds_up_no_other(engine, receivers):
    hanging = receiving(receivers, engine, HANG)
    answering = receiving(receivers, engine)
    loop = make_loop(engine, timeout=20)
    loop.start()
    try:
        end_a_job(engine, DeliveryOutbox(wake=loop.wake))
        hanging.wait_for(1)
        answering.wait_for(1, timeout=5)
        wait_until(lambda: DeliveryStatus.DELIVERED in [status for status, *_ in outcomes(engine)])
    finally:
        loop.stop()


def test_a_stop_mid_attempt_is_recorded_and_the_next_run_sends_it_again(engine, receivers):
    receiver = receiving(receivers, engine, HANG)
    loop = make_loop(engine, timeout=30)
    loop.start()
    end_a_job(engine, DeliveryOutbox(wake=loop.wake))
    receiver.wait_for(1)
    started = time.monotonic()
    loop.stop()
    assert time.monotonic() - started < 5, "a stop does not wait for the receiver"
    assert outcomes(engine) == [(DeliveryStatus.PENDING, [None], [STOPPED])]
    again = make_loop(engine)
    again.start(sole_sender=True)
    try:
        first, second = receiver.wait_for(2)
        assert first.message_id == second.message_id
        wait_until(
            lambda: outcomes(engine) == [(DeliveryStatus.DELIVERED, [None, 200], [STOPPED, None])]
        )
    finally:
        again.stop()


class WaitingQueue(DeliveryQueue):
    """Its claims come back a while after they were made, as when the other claims of a
    batch wait for SQLite's write lock behind a long import."""

    def claim_due(self, limit: int) -> list[Claim]:
        claims = super().claim_due(limit)
        if claims:
            time.sleep(2.0)
        return claims


def test_a_claim_that_waited_is_renewed_before_its_request_so_no_second_goes_at_once(
    engine, receivers
):
    receiver = receiving(receivers, engine, HANG)
    lease = timedelta(seconds=3)  # over by the time the request is 1 s old, unless renewed
    schedule = RetrySchedule(first=timedelta(seconds=30))
    waiting = WaitingQueue(engine, schedule=schedule, lease=lease)
    policy = TargetPolicy(allow_private=True)
    loop = DeliveryLoop(waiting, lambda: Sender(policy, timeout=2.5), poll_seconds=SLOW_POLL)
    loop.start()
    try:
        end_a_job(engine, DeliveryOutbox(wake=loop.wake))
        receiver.wait_for(1)  # sent 2 s after its claim; held unanswered
        time.sleep(1.5)  # 3.5 s after the claim, the request still in flight
        other = DeliveryQueue(engine, schedule=schedule, lease=lease)
        assert other.claim_due(1) == [], "its endpoint is still in flight"
    finally:
        loop.stop()
