"""The Job table, its enums, and the public shape clients see."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index
from sqlmodel import Field, SQLModel


def utc_now() -> datetime:
    return datetime.now(UTC)


class JobKind(StrEnum):
    IMPORT = "IMPORT"
    EXPORT = "EXPORT"


class JobStatus(StrEnum):
    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATUSES


FINAL_STATUSES = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})


def timestamp_field(*, required: bool) -> Any:
    """A timezone-aware timestamp field (each call makes its own Column, as SQLAlchemy needs)."""
    column = Column(DateTime(timezone=True), nullable=not required)
    if required:
        return Field(default_factory=utc_now, sa_column=column)
    return Field(default=None, sa_column=column)


class Job(SQLModel, table=True):
    """One import or export. The row is the truth; `version` bumps on every change."""

    __tablename__ = "job"
    __table_args__ = (
        Index("ix_job_owner_created", "owner", "created_at"),
        Index("ix_job_owner_status", "owner", "status"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    kind: JobKind
    dataset: str = Field(max_length=64)
    status: JobStatus = Field(default=JobStatus.PENDING, index=True)
    progress: int = 0
    message: str = ""
    error: str | None = None
    result: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    # What the job works on: the stored upload for imports, {format, filter} for exports.
    params: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    version: int = 1
    owner: str = Field(default="anonymous", max_length=128)
    cancel_requested: bool = False
    retry_of: uuid.UUID | None = None
    created_at: datetime = timestamp_field(required=True)
    started_at: datetime | None = timestamp_field(required=False)
    updated_at: datetime = timestamp_field(required=True)
    finished_at: datetime | None = timestamp_field(required=False)
    # Set while PROCESSING by runners in other processes; a stale one means the runner died.
    heartbeat_at: datetime | None = timestamp_field(required=False)
    # Bytes of this job's files on disk (upload, export, error report): the owner's quota.
    stored_bytes: int = 0


def as_utc(moment: datetime) -> datetime:
    """Aware UTC; SQLite hands back naive values, and they were stored as UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def iso_utc(moment: datetime | None) -> str | None:
    """ISO-8601 UTC with milliseconds and `Z`, as the stream contract fixes it."""
    if moment is None:
        return None
    moment = as_utc(moment)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def job_public(job: Job) -> dict[str, Any]:
    """The job JSON of the REST API (the polling endpoint)."""
    return {
        "jobId": str(job.id),
        "kind": job.kind.value,
        "dataset": job.dataset,
        "status": job.status.value,
        "progress": job.progress,
        "message": job.message,
        "error": job.error,
        "result": job.result,
        "version": job.version,
        "retryOf": str(job.retry_of) if job.retry_of else None,
        "createdAt": iso_utc(job.created_at),
        "startedAt": iso_utc(job.started_at),
        "updatedAt": iso_utc(job.updated_at),
        "finishedAt": iso_utc(job.finished_at),
    }
