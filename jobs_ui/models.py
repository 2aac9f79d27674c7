"""The Job table, its enums, and the public shape clients see."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index
from sqlmodel import Field, SQLModel

from jobs_ui import urls
from jobs_ui.schemas import FINAL_STATUSES, JobKind, JobPublic, JobStatus, as_utc
from jobs_ui.schemas import iso_utc as _iso_utc

__all__ = [
    "FINAL_STATUSES",
    "Job",
    "JobKind",
    "JobPublic",
    "JobStatus",
    "as_utc",
    "iso_utc",
    "job_public",
    "public_result",
    "utc_now",
]


def utc_now() -> datetime:
    return datetime.now(UTC)


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
    # Which run this is: a job interrupted by a restart or a lost worker is queued again by
    # itself, up to JOBS_UI_MAX_ATTEMPTS runs. Writes of a run carry its number, so a run
    # that was given up on (a worker thought dead) cannot change the job of the next one.
    attempt: int = 1
    retry_of: uuid.UUID | None = None
    # An import's lineage: the dry run a commit carries out, the import an undo takes back,
    # and (on an import) the undo that took it back.
    commit_of: uuid.UUID | None = None
    undo_of: uuid.UUID | None = None
    undone_by: uuid.UUID | None = None
    # The import whose skipped rows, fixed in the browser, this import takes in.
    fix_of: uuid.UUID | None = Field(default=None, index=True)
    created_at: datetime = timestamp_field(required=True)
    started_at: datetime | None = timestamp_field(required=False)
    updated_at: datetime = timestamp_field(required=True)
    finished_at: datetime | None = timestamp_field(required=False)
    # Set while PROCESSING by runners in other processes; a stale one means the runner died.
    heartbeat_at: datetime | None = timestamp_field(required=False)
    # Bytes of this job's files on disk (upload, export, error report): the owner's quota.
    stored_bytes: int = 0
    # How fast a PROCESSING job goes, smoothed (None until known, and once it ends).
    rows_per_second: float | None = None
    eta_seconds: int | None = None


def iso_utc(moment: datetime | None) -> str | None:
    """ISO-8601 UTC with milliseconds and `Z`, as the stream contract fixes it."""
    return None if moment is None else _iso_utc(moment)


def public_result(job: Job) -> dict[str, Any] | None:
    """The stored result with the links to the job's files, which engines do not store:
    the computed value wins over one an older row may still hold."""
    result = job.result
    if result is None:
        return None
    if job.status is not JobStatus.COMPLETED:  # no files to link to: no stored link passes
        return {k: v for k, v in result.items() if k not in ("fileUrl", "errorReportUrl")}
    files_kept = not result.get("filesDeleted")
    if job.kind is JobKind.EXPORT:
        public = {"fileUrl": None, **result}  # the link first, where it always was
        public["fileUrl"] = urls.export_download_url(job.id) if files_kept else None
        return public
    skipped = files_kept and (result.get("skippedCount") or 0) > 0
    return {**result, "errorReportUrl": urls.error_report_url(job.id) if skipped else None}


def job_public(job: Job) -> JobPublic:
    """The job as the REST API and the stream show it."""
    return JobPublic(
        job_id=job.id,
        status=job.status,
        progress=job.progress,
        error=job.error,
        result=public_result(job),
        updated_at=job.updated_at,
        message=job.message,
        rows_per_second=job.rows_per_second,
        eta_seconds=job.eta_seconds,
        kind=job.kind,
        dataset=job.dataset,
        version=job.version,
        attempt=job.attempt,
        retry_of=job.retry_of,
        commit_of=job.commit_of,
        undo_of=job.undo_of,
        undone_by=job.undone_by,
        fix_of=job.fix_of,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )
