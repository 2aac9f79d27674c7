"""The messages of the job status stream, as the contract fixes them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from jobs_ui.api.sse import format_event
from jobs_ui.models import Job, iso_utc


def connected_message(job_id: uuid.UUID) -> dict[str, Any]:
    return {"type": "connected", "jobId": str(job_id)}


def error_message(text: str) -> dict[str, Any]:
    return {"type": "error", "message": text}


def status_update_message(job: Job) -> dict[str, Any]:
    return {
        "type": "status_update",
        "jobId": str(job.id),
        "status": job.status.value,
        "progress": job.progress,
        "error": job.error,
        "result": job.result,
        "updatedAt": iso_utc(job.updated_at),
        "message": job.message,
        "kind": job.kind.value,
        "dataset": job.dataset,
        "version": job.version,
    }


@dataclass(frozen=True, slots=True)
class JobSnapshot:
    """A job at one version, with its stream event already encoded (once for all streams)."""

    version: int
    final: bool
    event: bytes


def snapshot_of(job: Job) -> JobSnapshot:
    return JobSnapshot(
        version=job.version,
        final=job.status.is_final,
        event=format_event(status_update_message(job), event_id=job.version),
    )
