"""Registered webhooks and the record of their deliveries, as their owner sees them.

Who may see or change which webhook is decided by the commands (`jobs_ui.jobs.commands`);
this module stores and reads.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import Engine, delete, func
from sqlmodel import Session, col, select

from jobs_ui.db import begin_writing, serialise_on
from jobs_ui.webhooks.models import (
    DeliveryAttempt,
    DeliveryRecord,
    Webhook,
    WebhookDelivery,
    WebhookEvent,
)
from jobs_ui.webhooks.signing import new_secret
from jobs_ui.webhooks.targets import TargetError, parse_target


class TooManyWebhooksError(Exception):
    def __init__(self, count: int) -> None:
        super().__init__(f"{count} webhooks")
        self.count = count


class DuplicateWebhookError(Exception):
    """The owner has a webhook for this very URL already (`webhook_id`)."""

    def __init__(self, webhook_id: uuid.UUID) -> None:
        super().__init__(f"webhook {webhook_id} has this url")
        self.webhook_id = webhook_id


class TooManyForHostError(Exception):
    """The owner has `count` webhooks whose URLs name `host` already."""

    def __init__(self, host: str, count: int) -> None:
        super().__init__(f"{count} webhooks for {host}")
        self.host, self.count = host, count


def url_key(url: str) -> tuple[str, str, int, str]:
    """What makes two URLs one target: `HTTPS://Example.com:443/in` is `https://example.com/in`."""
    try:
        target = parse_target(url)
    except TargetError:  # none is stored unchecked; compared as written all the same
        return ("", url, 0, "")
    return (target.scheme, target.host, target.port, target.path)


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
        most_per_host: int | None = None,
    ) -> Webhook:
        """A new webhook with a fresh secret. Refused, under the owner's lock (so racing
        requests cannot both pass): TooManyWebhooksError if the owner has `most` already;
        with `most_per_host` (as registering gives it), DuplicateWebhookError if one has
        this URL and TooManyForHostError if that many name its host (each is one more
        request to it for every job)."""
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
            if most_per_host is not None:
                self._check_target(session, owner, url, most_per_host)
            session.add(webhook)
            session.commit()
        return webhook

    @staticmethod
    def _check_target(session: Session, owner: str, url: str, most_per_host: int) -> None:
        # Compared in Python: an owner has few webhooks (JOBS_UI_MAX_WEBHOOKS), and a URL's
        # parts are not stored apart.
        key = url_key(url)
        same_host = 0
        theirs = session.exec(select(Webhook.id, Webhook.url).where(Webhook.owner == owner))
        for webhook_id, other in theirs.all():
            other_key = url_key(other)
            if other_key == key:
                raise DuplicateWebhookError(webhook_id)
            same_host += other_key[1] == key[1]
        if same_host >= most_per_host:
            raise TooManyForHostError(key[1], same_host)

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
            begin_writing(session)
            # Its row first, then its deliveries: the order a claim and a record take them
            # (`jobs_ui.webhooks.queue`), so a delete racing them on Postgres waits for
            # them (or they skip it) instead of deadlocking. A job's transaction writing
            # deliveries to it (FOR KEY SHARE) is waited for too: what it wrote goes below.
            found = session.exec(
                select(Webhook.id).where(col(Webhook.id) == webhook_id).with_for_update()
            ).first()
            if found is None:
                session.rollback()
                return False
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
