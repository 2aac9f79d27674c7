"""Registered webhooks and the record of their deliveries, as their owner sees them.

Who may see or change which webhook is decided by the commands (`jobs_ui.jobs.commands`);
this module stores and reads.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import Engine, delete, func
from sqlmodel import Session, col, select

from jobs_ui.db import serialise_on
from jobs_ui.webhooks.models import (
    DeliveryAttempt,
    DeliveryRecord,
    Webhook,
    WebhookDelivery,
    WebhookEvent,
)
from jobs_ui.webhooks.signing import new_secret


class TooManyWebhooksError(Exception):
    def __init__(self, count: int) -> None:
        super().__init__(f"{count} webhooks")
        self.count = count


class WebhookEndpoints:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(
        self,
        *,
        owner: str,
        url: str,
        events: Sequence[WebhookEvent],
        datasets: Sequence[str] | None,
        most: int,
    ) -> Webhook:
        """A new webhook with a fresh secret; TooManyWebhooksError if the owner has `most`
        already (counted under the owner's lock, so racing requests cannot both pass)."""
        webhook = Webhook(
            owner=owner,
            url=url,
            events=[event.value for event in events],
            datasets=None if datasets is None else list(datasets),
            secret=new_secret(),
        )
        with Session(self.engine, expire_on_commit=False) as session:
            serialise_on(session, f"webhooks:{owner}")
            count = session.exec(select(func.count()).where(Webhook.owner == owner)).one()
            if count >= most:
                raise TooManyWebhooksError(int(count))
            session.add(webhook)
            session.commit()
        return webhook

    def get(self, webhook_id: uuid.UUID) -> Webhook | None:
        with Session(self.engine, expire_on_commit=False) as session:
            return session.get(Webhook, webhook_id)

    def of_owner(self, owner: str) -> Sequence[Webhook]:
        """The owner's webhooks, oldest first."""
        query = (
            select(Webhook)
            .where(Webhook.owner == owner)
            .order_by(col(Webhook.created_at), col(Webhook.id))
        )
        with Session(self.engine, expire_on_commit=False) as session:
            return session.exec(query).all()

    def delete(self, webhook_id: uuid.UUID) -> bool:
        """The webhook and everything of its deliveries (those not sent yet never will be)."""
        with Session(self.engine) as session:
            deliveries = select(WebhookDelivery.id).where(
                col(WebhookDelivery.webhook_id) == webhook_id
            )
            session.exec(
                delete(DeliveryAttempt).where(col(DeliveryAttempt.delivery_id).in_(deliveries))
            )
            session.exec(
                delete(WebhookDelivery).where(col(WebhookDelivery.webhook_id) == webhook_id)
            )
            deleted = session.exec(delete(Webhook).where(col(Webhook.id) == webhook_id)).rowcount
            session.commit()
        return bool(deleted)

    def deliveries(self, webhook_id: uuid.UUID, *, limit: int) -> list[DeliveryRecord]:
        """The webhook's latest `limit` deliveries, newest first, each with its attempts."""
        with Session(self.engine, expire_on_commit=False) as session:
            deliveries = session.exec(
                select(WebhookDelivery)
                .where(col(WebhookDelivery.webhook_id) == webhook_id)
                .order_by(col(WebhookDelivery.created_at).desc(), col(WebhookDelivery.id))
                .limit(limit)
            ).all()
            ids = [delivery.id for delivery in deliveries]
            attempts: dict[uuid.UUID, list[DeliveryAttempt]] = {id_: [] for id_ in ids}
            if ids:
                for attempt in session.exec(
                    select(DeliveryAttempt)
                    .where(col(DeliveryAttempt.delivery_id).in_(ids))
                    .order_by(col(DeliveryAttempt.attempted_at), col(DeliveryAttempt.id))
                ).all():
                    attempts[attempt.delivery_id].append(attempt)
        return [DeliveryRecord(delivery, attempts[delivery.id]) for delivery in deliveries]
