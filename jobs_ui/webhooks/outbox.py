"""The deliveries a job's change owes, written in the transaction that makes the change.

So a job never ends without its deliveries recorded, nor are deliveries recorded for an end
that was rolled back: a process that dies right after the commit leaves them in the table,
and whichever delivery loop runs next sends them. Progress is owed on a best-effort basis
only: it is written in a savepoint of its own, so nothing that goes wrong there touches the
job's change (an import is never failed by a webhook).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from jobs_ui.models import Job, JobStatus, job_public, utc_now
from jobs_ui.webhooks.models import DeliveryStatus, Webhook, WebhookDelivery, WebhookEvent

EVENT_OF_STATUS = {
    JobStatus.COMPLETED: WebhookEvent.JOB_COMPLETED,
    JobStatus.FAILED: WebhookEvent.JOB_FAILED,
    JobStatus.CANCELLED: WebhookEvent.JOB_CANCELLED,
    JobStatus.PROCESSING: WebhookEvent.JOB_PROGRESS,
}
PROGRESS_INTERVAL = timedelta(seconds=10)  # per job and endpoint

log = logging.getLogger(__name__)


def _no_wake() -> None:
    return None


class DeliveryOutbox:
    """The job store's outbox (see `jobs_ui.jobs.store.Outbox`): called with each job's
    progress and end, inside that change's transaction. `wake` is called after its commit
    when deliveries were written (the delivery loop of this process, if it has one)."""

    def __init__(
        self,
        *,
        progress_interval: timedelta = PROGRESS_INTERVAL,
        wake: Callable[[], None] = _no_wake,
    ) -> None:
        self.progress_interval = progress_interval
        self.wake = wake

    def write(self, session: Session, job: Job) -> bool:
        """Add a delivery for each of the owner's webhooks that asked for this event (and
        this dataset): a job's end, or its progress unless the webhook got some of this job's
        within `progress_interval`. True if any was added."""
        event = EVENT_OF_STATUS.get(job.status)
        if event is None:
            return False
        if event is not WebhookEvent.JOB_PROGRESS:
            # The end: in the job's own transaction, so a failure here fails (and takes
            # back) the end too, and an end is never committed without its deliveries.
            return self._owe(session, job, event)
        try:
            # Undone alone on any failure: the savepoint keeps the job's transaction usable
            # (on Postgres a failed statement would otherwise abort all of it).
            with session.begin_nested():
                return self._owe(session, job, event)
        except Exception:  # best effort: the job's progress goes on without it
            log.warning("job %s: progress deliveries not written", job.id, exc_info=True)
            return False

    def _owe(self, session: Session, job: Job, event: WebhookEvent) -> bool:
        # Locked (key share) until this change commits: a webhook deleted meanwhile waits,
        # rather than vanishing between this read and the insert below (which would fail
        # the job's own change on its foreign key). SQLite needs none: one writer at a time.
        hooks = session.exec(
            select(Webhook.id, Webhook.events, Webhook.datasets)
            .where(Webhook.owner == job.owner)
            .with_for_update(read=True, key_share=True)
        ).all()
        targets = [
            webhook_id
            for webhook_id, events, datasets in hooks
            if event in events and (datasets is None or job.dataset in datasets)
        ]
        if not targets:
            return False
        now = utc_now()
        if event is WebhookEvent.JOB_PROGRESS:
            recent = set(
                session.exec(
                    select(WebhookDelivery.webhook_id).where(
                        col(WebhookDelivery.job_id) == job.id,
                        col(WebhookDelivery.event) == event.value,
                        col(WebhookDelivery.webhook_id).in_(targets),
                        col(WebhookDelivery.created_at) > now - self.progress_interval,
                    )
                ).all()
            )
            targets = [webhook_id for webhook_id in targets if webhook_id not in recent]
            if not targets:
                return False
        # Progress not yet on its way is old news now: this newer state replaces it.
        session.exec(
            update(WebhookDelivery)
            .where(
                col(WebhookDelivery.job_id) == job.id,
                col(WebhookDelivery.webhook_id).in_(targets),
                col(WebhookDelivery.event) == WebhookEvent.JOB_PROGRESS.value,
                col(WebhookDelivery.status) == DeliveryStatus.PENDING.value,
                col(WebhookDelivery.lease_token).is_(None),
            )
            .values(status=DeliveryStatus.SUPERSEDED.value, next_attempt_at=None, ended_at=now)
        )
        body = job_public(job).model_dump_json()  # the job JSON, as GET /jobs/{id} answers
        for webhook_id in targets:
            session.add(
                WebhookDelivery(
                    webhook_id=webhook_id,
                    job_id=job.id,
                    event=event.value,
                    body=body,
                    created_at=now,
                    next_attempt_at=now,
                )
            )
        return True

    def after_commit(self) -> None:
        self.wake()
