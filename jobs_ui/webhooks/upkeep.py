"""What a delivery queue ends without sending: deliveries past the give-up window, progress
a job's end has overtaken, and (swept) what ended long ago.

The first two run inside a claim of the endpoint (its row locked, its lease held, so no
attempt to it is in flight), just before its next delivery is chosen.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, exists, update
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from jobs_ui.webhooks.models import (
    DeliveryAttempt,
    DeliveryStatus,
    WebhookDelivery,
    WebhookEvent,
)

log = logging.getLogger(__name__)

INTERRUPTED = "The process sending it stopped before an answer came."
ENDED = (DeliveryStatus.DELIVERED, DeliveryStatus.FAILED, DeliveryStatus.SUPERSEDED)


def interrupted_attempt(delivery: WebhookDelivery, now: datetime) -> DeliveryAttempt:
    """The attempt of `delivery` whose process died: it still holds that attempt's lease."""
    return DeliveryAttempt(
        delivery_id=delivery.id, attempted_at=delivery.leased_at or now, error=INTERRUPTED
    )


def give_up_expired(
    session: Session, webhook_id: uuid.UUID, *, now: datetime, give_up_after: timedelta
) -> None:
    """Give up the endpoint's deliveries written `give_up_after` or longer ago. An outcome
    applies that rule as it schedules the next try, but attempts that keep dying
    (interrupted, or released as their process stopped) bring no outcome."""
    too_old = session.exec(
        select(WebhookDelivery).where(
            col(WebhookDelivery.webhook_id) == webhook_id,
            col(WebhookDelivery.status) == DeliveryStatus.PENDING,
            col(WebhookDelivery.created_at) <= now - give_up_after,
        )
    ).all()
    for delivery in too_old:
        if delivery.lease_token is not None:
            session.add(interrupted_attempt(delivery, now))
            delivery.attempts += 1
        delivery.status, delivery.next_attempt_at = DeliveryStatus.FAILED.value, None
        delivery.ended_at, delivery.lease_token, delivery.leased_at = now, None, None
        session.add(delivery)
        log.warning("delivery %s given up after %d attempts", delivery.id, delivery.attempts)


def supersede_ended_progress(session: Session, webhook_id: uuid.UUID, *, now: datetime) -> None:
    """Replace the endpoint's progress of jobs whose end it is owed already: sent now, it
    would arrive after the end. (The outbox replaces progress not in flight as the end is
    written; this is progress that was, and failed or died meanwhile.)"""
    end = aliased(WebhookDelivery)
    session.exec(
        update(WebhookDelivery)
        .where(
            col(WebhookDelivery.webhook_id) == webhook_id,
            col(WebhookDelivery.event) == WebhookEvent.JOB_PROGRESS.value,
            col(WebhookDelivery.status) == DeliveryStatus.PENDING.value,
            exists().where(
                col(end.webhook_id) == webhook_id,
                col(end.job_id) == col(WebhookDelivery.job_id),
                col(end.event) != WebhookEvent.JOB_PROGRESS.value,
            ),
        )
        .values(
            status=DeliveryStatus.SUPERSEDED.value,
            next_attempt_at=None,
            ended_at=now,
            lease_token=None,
            leased_at=None,
        )
    )


def sweep_ended(engine: Engine, *, ended_before: datetime) -> int:
    """Delete the deliveries (and their attempts) that ended before `ended_before`."""
    with Session(engine) as session:
        old = select(WebhookDelivery.id).where(
            col(WebhookDelivery.status).in_([status.value for status in ENDED]),
            col(WebhookDelivery.ended_at) < ended_before,
        )
        session.exec(delete(DeliveryAttempt).where(col(DeliveryAttempt.delivery_id).in_(old)))
        deleted = session.exec(
            delete(WebhookDelivery).where(col(WebhookDelivery.id).in_(old))
        ).rowcount
        session.commit()
    return int(deleted)
