"""The messages of the job status stream, as the contract fixes them (see jobs_ui/schemas.py)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from jobs_ui.live.sse import format_event
from jobs_ui.models import Job, job_public
from jobs_ui.schemas import ConnectedMessage, ErrorMessage, StatusUpdateMessage


def connected_message(job_id: uuid.UUID) -> ConnectedMessage:
    return ConnectedMessage(job_id=job_id)


def error_message(text: str) -> ErrorMessage:
    return ErrorMessage(message=text)


def status_update_message(job: Job) -> StatusUpdateMessage:
    """The job as the REST API shows it (one model for both), as a stream message."""
    return StatusUpdateMessage.of(job_public(job))


@dataclass(frozen=True, slots=True)
class JobSnapshot:
    """A job at one version, with its stream event already encoded (once for all streams)."""

    version: int
    final: bool
    event: bytes
    owner: str  # who may follow it (see jobs_ui.jobs.commands.check_visible)


def snapshot_of(job: Job) -> JobSnapshot:
    return JobSnapshot(
        version=job.version,
        final=job.status.is_final,
        owner=job.owner,
        event=format_event(status_update_message(job), event_id=job.version),
    )
