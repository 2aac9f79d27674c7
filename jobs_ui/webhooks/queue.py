"""The deliveries owed, as a queue many processes take from: claimed one endpoint at a time.

Claiming an endpoint takes its lease (free, or expired) with its row locked, so whatever
number of loops run (each backend's, each worker's) at most one request to an endpoint is
in flight. The delivery sent carries the claim's token while its attempt runs; the outcome
is recorded only by the claim that holds it. A process that dies mid-attempt leaves both
behind: its lease runs out (or a restarting in-process runner frees it), and whoever claims
the delivery next records that attempt as interrupted and sends it again, under the same
Webhook-Id, so a receiver that did get it can tell.

Every transaction that writes both tables locks the endpoint's row first, then its
deliveries (claims, records, the outbox, deletes), so none can deadlock another on Postgres;
on SQLite each takes the one write lock at BEGIN. A lease's times are read from the clock
only once that lock is held, so no lease is born already over however long the wait was.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import Engine, func, or_, update
from sqlmodel import Session, col, select

from jobs_ui.db import begin_writing
from jobs_ui.models import as_utc, utc_now
from jobs_ui.webhooks.models import (
    MAX_ERROR_CHARS,
    DeliveryAttempt,
    DeliveryStatus,
    Webhook,
    WebhookDelivery,
)
from jobs_ui.webhooks.schedule import RetrySchedule
from jobs_ui.webhooks.sender import Outcome
from jobs_ui.webhooks.upkeep import (
    INTERRUPTED,
    give_up_expired,
    interrupted_attempt,
    supersede_ended_progress,
    sweep_ended,
)

log = logging.getLogger(__name__)

STOPPED = "The server stopped before an answer came."


@dataclass(frozen=True)
class Claim:
    """One delivery taken to be sent now, with what sending it needs."""

    delivery_id: uuid.UUID
    webhook_id: uuid.UUID
    token: str
    url: str
    secret: str
    body: str
    attempted_at: datetime
    lease_until: datetime  # the endpoint is this claim's until then (`renew` moves it on)


class DeliveryQueue:
    """Claims deliveries and records how their attempts went. `lease`: how long a claim
    holds its endpoint; longer than an attempt can take, so only a process that died (or
    stalled for as long) loses one."""

    def __init__(self, engine: Engine, *, schedule: RetrySchedule, lease: timedelta) -> None:
        self.engine = engine
        self.schedule = schedule
        self.lease = lease

    def claim_due(self, limit: int) -> list[Claim]:
        """Up to `limit` deliveries due now, of as many endpoints, each endpoint's first."""
        now = utc_now()
        free = or_(col(Webhook.lease_until).is_(None), col(Webhook.lease_until) < now)
        first_due = func.min(WebhookDelivery.next_attempt_at)
        query = (
            select(WebhookDelivery.webhook_id)
            .join(Webhook, col(Webhook.id) == col(WebhookDelivery.webhook_id))
            .where(
                col(WebhookDelivery.status) == DeliveryStatus.PENDING,
                col(WebhookDelivery.next_attempt_at) <= now,
                free,
            )
            .group_by(col(WebhookDelivery.webhook_id))
            .order_by(first_due)
            .limit(limit)
        )
        with Session(self.engine) as session:
            endpoints = list(session.exec(query).all())
        claims = (self._claim(webhook_id) for webhook_id in endpoints)
        return [claim for claim in claims if claim is not None]

    def next_due(self) -> datetime | None:
        """When the earliest delivery of an endpoint not in flight is due (maybe now)."""
        now = utc_now()
        query = (
            select(func.min(WebhookDelivery.next_attempt_at))
            .join(Webhook, col(Webhook.id) == col(WebhookDelivery.webhook_id))
            .where(
                col(WebhookDelivery.status) == DeliveryStatus.PENDING,
                or_(col(Webhook.lease_until).is_(None), col(Webhook.lease_until) < now),
            )
        )
        with Session(self.engine) as session:
            due = session.exec(query).one()
        return None if due is None else as_utc(due)

    def _claim(self, webhook_id: uuid.UUID) -> Claim | None:
        token = uuid.uuid4().hex
        with Session(self.engine, expire_on_commit=False) as session:
            begin_writing(session)  # SQLite: the write lock at BEGIN, before the clock
            # Postgres: the endpoint's row, never waited for (whoever holds it is claiming,
            # recording or deleting it); FOR NO KEY UPDATE, so a job's transaction writing
            # its deliveries (which holds it FOR KEY SHARE) does not keep it from us.
            webhook = session.exec(
                select(Webhook)
                .where(col(Webhook.id) == webhook_id)
                .with_for_update(key_share=True, skip_locked=True)
            ).first()
            now = utc_now()  # the lock is held: the lease starts now, not before the wait
            if webhook is None or (
                webhook.lease_until is not None and as_utc(webhook.lease_until) >= now
            ):
                session.rollback()  # another loop took it first, or it was deleted
                return None
            # What must never be sent, ended before the next delivery is chosen.
            give_up_expired(session, webhook_id, now=now, give_up_after=self.schedule.give_up_after)
            supersede_ended_progress(session, webhook_id, now=now)
            delivery = session.exec(
                select(WebhookDelivery)
                .where(
                    col(WebhookDelivery.webhook_id) == webhook_id,
                    col(WebhookDelivery.status) == DeliveryStatus.PENDING,
                    col(WebhookDelivery.next_attempt_at) <= now,
                )
                .order_by(col(WebhookDelivery.next_attempt_at), col(WebhookDelivery.created_at))
                .limit(1)
            ).first()
            if delivery is None:
                session.commit()  # what was given up or superseded, if anything
                return None
            if delivery.lease_token is not None:  # an attempt whose process died
                session.add(interrupted_attempt(delivery, now))
                delivery.attempts += 1
            delivery.lease_token, delivery.leased_at = token, now
            webhook.lease_token, webhook.lease_until = token, now + self.lease
            session.add(delivery)
            session.add(webhook)
            session.commit()
            return Claim(
                delivery_id=delivery.id,
                webhook_id=webhook_id,
                token=token,
                url=webhook.url,
                secret=webhook.secret,
                body=delivery.body,
                attempted_at=now,
                lease_until=now + self.lease,
            )

    def renew(self, claim: Claim) -> Claim | None:
        """The claim, its lease (and attempt time) starting again now: for an attempt that
        begins a while after it was claimed, so its endpoint stays its own all along. None:
        the claim was lost (another loop took the endpoint, or it was deleted)."""
        with Session(self.engine) as session:
            begin_writing(session)
            held = session.exec(
                select(Webhook.id)
                .where(col(Webhook.id) == claim.webhook_id, col(Webhook.lease_token) == claim.token)
                .with_for_update(key_share=True)
            ).first()
            if held is None:
                session.rollback()
                return None
            # Still ours under the lock, even if run out: nobody took it meanwhile.
            now = utc_now()
            session.exec(
                update(Webhook)
                .where(col(Webhook.id) == claim.webhook_id)
                .values(lease_until=now + self.lease)
            )
            session.exec(
                update(WebhookDelivery)
                .where(
                    col(WebhookDelivery.id) == claim.delivery_id,
                    col(WebhookDelivery.lease_token) == claim.token,
                )
                .values(leased_at=now)
            )
            session.commit()
        return replace(claim, attempted_at=now, lease_until=now + self.lease)

    def record(self, claim: Claim, outcome: Outcome) -> DeliveryStatus | None:
        """Record the attempt, and the delivery's next step: delivered, tried again later,
        or given up. Frees the endpoint. None: the claim was lost (its lease ran out and
        another loop took it, or the webhook was deleted), so nothing is recorded."""
        return self._finish(
            claim,
            DeliveryAttempt(
                delivery_id=claim.delivery_id,
                attempted_at=claim.attempted_at,
                status_code=outcome.status_code,
                error=None if outcome.error is None else outcome.error[:MAX_ERROR_CHARS],
                duration_ms=outcome.duration_ms,
            ),
            delivered=outcome.delivered,
        )

    def release(self, claim: Claim) -> None:
        """The process stops with this attempt unanswered: recorded as such, and the
        delivery is due again at once (it was not the receiver's doing)."""
        attempt = DeliveryAttempt(
            delivery_id=claim.delivery_id, attempted_at=claim.attempted_at, error=STOPPED
        )
        self._finish(claim, attempt, delivered=False, again_at=utc_now())

    def _finish(
        self,
        claim: Claim,
        attempt: DeliveryAttempt,
        *,
        delivered: bool,
        again_at: datetime | None = None,
    ) -> DeliveryStatus | None:
        with Session(self.engine) as session:
            begin_writing(session)  # it reads, then writes
            # The endpoint's row before its delivery's, as every writer of both takes them.
            session.exec(
                select(Webhook.id)
                .where(col(Webhook.id) == claim.webhook_id)
                .with_for_update(key_share=True)
            ).first()
            now = utc_now()
            held = session.exec(
                select(WebhookDelivery.attempts, WebhookDelivery.created_at).where(
                    col(WebhookDelivery.id) == claim.delivery_id,
                    col(WebhookDelivery.lease_token) == claim.token,
                )
            ).first()
            if held is None:
                log.warning("delivery %s: its claim was lost; outcome dropped", claim.delivery_id)
                return None
            attempts, created_at = held[0] + 1, as_utc(held[1])
            values: dict[str, object] = {"attempts": attempts, "lease_token": None}
            if delivered:
                status = DeliveryStatus.DELIVERED
                values |= {"delivered_at": now, "ended_at": now, "next_attempt_at": None}
            else:
                at = again_at or self.schedule.next_attempt(
                    attempts=attempts, created_at=created_at, now=now
                )
                status = DeliveryStatus.PENDING if at is not None else DeliveryStatus.FAILED
                values |= {"next_attempt_at": at, "ended_at": None if at else now}
            values["status"] = status.value
            changed = session.exec(
                update(WebhookDelivery)
                .where(
                    col(WebhookDelivery.id) == claim.delivery_id,
                    col(WebhookDelivery.lease_token) == claim.token,
                )
                .values(leased_at=None, **values)
            ).rowcount
            if not changed:
                session.rollback()
                return None
            session.add(attempt)
            session.exec(
                update(Webhook)
                .where(col(Webhook.id) == claim.webhook_id, col(Webhook.lease_token) == claim.token)
                .values(lease_token=None, lease_until=None)
            )
            session.commit()
        if status is DeliveryStatus.FAILED:
            log.warning("delivery %s given up after %d attempts", claim.delivery_id, attempts)
        return status

    def free_endpoints(self) -> int:
        """Free every endpoint's lease: for a process that alone sends (the in-process
        runner), at start, when any lease is one a previous run of it left behind."""
        with Session(self.engine) as session:
            freed = session.exec(
                update(Webhook)
                .where(col(Webhook.lease_token).is_not(None))
                .values(lease_token=None, lease_until=None)
            ).rowcount
            session.commit()
        return int(freed)


__all__ = ["INTERRUPTED", "STOPPED", "Claim", "DeliveryQueue", "sweep_ended"]
