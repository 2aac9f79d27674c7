"""The messages of the job status stream, as the contract fixes them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from jobs_ui.live.sse import format_event
from jobs_ui.models import Job, job_public


def connected_message(job_id: uuid.UUID) -> dict[str, Any]:
    return {"type": "connected", "jobId": str(job_id)}


def error_message(text: str) -> dict[str, Any]:
    return {"type": "error", "message": text}


# The contract's fields first, in its order, then the extras clients may use.
STATUS_UPDATE_FIELDS = (
    "jobId", "status", "progress", "error", "result", "updatedAt",
    "message", "kind", "dataset", "version",
)  # fmt: skip


def status_update_message(job: Job) -> dict[str, Any]:
    """The job as the REST API shows it (one serialisation for both), as a stream message."""
    public = job_public(job)
    return {"type": "status_update", **{name: public[name] for name in STATUS_UPDATE_FIELDS}}


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
