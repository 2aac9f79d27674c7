"""The webhook tables: endpoints, the deliveries owed to them, and each attempt; and the
public shape of each (jobs_ui.schemas) made from its rows."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import JSON, Column, ForeignKey, Index, String, Text, Uuid
from sqlmodel import Field, SQLModel

from jobs_ui.models import timestamp_field
from jobs_ui.schemas import (
    DeliveryAttemptPublic,
    DeliveryPublic,
    DeliveryStatus,
    WebhookEvent,
    WebhookPublic,
)

__all__ = [
    "DeliveryAttempt",
    "DeliveryRecord",
    "DeliveryStatus",
    "Webhook",
    "WebhookDelivery",
    "WebhookEvent",
    "delivery_public",
    "webhook_public",
]

MAX_URL_CHARS = 2048
MAX_ERROR_CHARS = 500


class Webhook(SQLModel, table=True):
    """An endpoint one principal registered. The lease says a delivery to it is in flight
    (`lease_token` names the claim), so each endpoint gets at most one request at a time,
    whichever process sends it."""

    __tablename__ = "webhook"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    owner: str = Field(max_length=128, index=True)
    url: str = Field(max_length=MAX_URL_CHARS)
    events: list[str] = Field(sa_column=Column(JSON, nullable=False))
    # None: jobs of every dataset.
    datasets: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    # Kept as given (it signs every delivery, so it cannot be stored hashed).
    secret: str = Field(max_length=128)
    created_at: datetime = timestamp_field(required=True)
    lease_token: str | None = Field(default=None, max_length=32)
    lease_until: datetime | None = timestamp_field(required=False)


class WebhookDelivery(SQLModel, table=True):
    """One message owed to one endpoint. Its body is the job's JSON as it was at the event,
    frozen, so every attempt sends (and signs) the same bytes under the same Webhook-Id."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        Index("ix_webhook_delivery_due", "status", "next_attempt_at"),
        Index("ix_webhook_delivery_webhook_created", "webhook_id", "created_at"),
        Index("ix_webhook_delivery_job", "job_id", "webhook_id"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    webhook_id: uuid.UUID = Field(
        sa_column=Column(Uuid(), ForeignKey("webhook.id", ondelete="CASCADE"), nullable=False)
    )
    job_id: uuid.UUID
    event: str = Field(sa_column=Column(String(32), nullable=False))
    body: str = Field(sa_column=Column(Text(), nullable=False))
    status: str = Field(
        default=DeliveryStatus.PENDING.value, sa_column=Column(String(16), nullable=False)
    )
    attempts: int = 0
    created_at: datetime = timestamp_field(required=True)
    next_attempt_at: datetime | None = timestamp_field(required=False)
    delivered_at: datetime | None = timestamp_field(required=False)
    ended_at: datetime | None = timestamp_field(required=False)
    # Set while an attempt is in flight: the claim's token and when it began. Still set
    # when the claim is taken again means that attempt's process stopped before its answer.
    lease_token: str | None = Field(default=None, max_length=32)
    leased_at: datetime | None = timestamp_field(required=False)


class DeliveryAttempt(SQLModel, table=True):
    """One try: when, the answer's status (or why there was none), how long it took."""

    __tablename__ = "webhook_attempt"

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: uuid.UUID = Field(
        sa_column=Column(
            Uuid(),
            ForeignKey("webhook_delivery.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        )
    )
    attempted_at: datetime = timestamp_field(required=True)
    status_code: int | None = None
    error: str | None = Field(default=None, max_length=MAX_ERROR_CHARS)
    duration_ms: int | None = None


@dataclass(frozen=True)
class DeliveryRecord:
    """A delivery with its attempts, oldest first: what its owner is shown."""

    delivery: WebhookDelivery
    attempts: Sequence[DeliveryAttempt]


def webhook_public(webhook: Webhook) -> WebhookPublic:
    """A webhook as its owner lists it: never with its secret."""
    return WebhookPublic(
        id=webhook.id,
        url=webhook.url,
        events=[WebhookEvent(event) for event in webhook.events],
        datasets=webhook.datasets,
        created_at=webhook.created_at,
    )


def delivery_public(record: DeliveryRecord) -> DeliveryPublic:
    delivery = record.delivery
    return DeliveryPublic(
        id=delivery.id,
        event=WebhookEvent(delivery.event),
        job_id=delivery.job_id,
        status=DeliveryStatus(delivery.status),
        created_at=delivery.created_at,
        next_attempt_at=delivery.next_attempt_at,
        delivered_at=delivery.delivered_at,
        attempts=[
            DeliveryAttemptPublic(
                attempted_at=attempt.attempted_at,
                status_code=attempt.status_code,
                error=attempt.error,
                duration_ms=attempt.duration_ms,
            )
            for attempt in record.attempts
        ],
    )
