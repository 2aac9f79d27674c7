"""The public shapes of the jobs API: the job JSON, the stream's messages, the error body.

One model per shape, used as the routes' `response_model`, as the stream's `status_update`
encoding and as the client's parser, so the OpenAPI document says what is sent. Pure
pydantic and the standard library: nothing else of the app is imported here, so the
client (and a command-line tool) can use it without the server's dependencies.

Field names are snake_case in Python and camelCase on the wire (the contract's names):
models are built by name or by alias, and always serialised by alias.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema
from pydantic.alias_generators import to_camel

__all__ = [
    "FINAL_STATUSES",
    "AccessTokenPublic",
    "ConnectedMessage",
    "CreatedJobPublic",
    "CreatedWebhookPublic",
    "DeliveryAttemptPublic",
    "DeliveryList",
    "DeliveryPublic",
    "DeliveryStatus",
    "ErrorBody",
    "ErrorMessage",
    "JobKind",
    "JobList",
    "JobPublic",
    "JobStatus",
    "StatusUpdateMessage",
    "WebhookEvent",
    "WebhookIn",
    "WebhookList",
    "WebhookPublic",
    "as_utc",
    "iso_utc",
]


class JobKind(StrEnum):
    IMPORT = "IMPORT"
    EXPORT = "EXPORT"


class JobStatus(StrEnum):
    """The contract's status values."""

    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATUSES


FINAL_STATUSES = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})


def as_utc(moment: datetime) -> datetime:
    """Aware UTC; SQLite hands back naive values, and they were stored as UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def iso_utc(moment: datetime) -> str:
    """ISO-8601 UTC with milliseconds and `Z`, as the stream contract fixes it."""
    moment = as_utc(moment)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


Timestamp = Annotated[
    datetime,
    PlainSerializer(iso_utc, return_type=str, when_used="json"),
    WithJsonSchema(
        {"type": "string", "format": "date-time", "examples": ["2025-01-31T12:00:00.000Z"]}
    ),
]
"""A moment; on the wire ISO-8601 UTC with milliseconds and `Z`."""


class Schema(BaseModel):
    """camelCase on the wire; built by either name; every field always sent."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        frozen=True,
        # Fields with defaults are always sent, so the response schemas list them as required.
        json_schema_serialization_defaults_required=True,
    )


class JobPublic(Schema):
    """A job as clients see it: the polling endpoint's JSON, and each `status_update`."""

    # The stream contract's fields, in its order.
    job_id: uuid.UUID
    status: JobStatus
    # Bounds declared, not checked: a stray value must not turn a read into a 500.
    progress: int = Field(json_schema_extra={"minimum": 0, "maximum": 100}, description="Percent.")
    error: str | None = Field(description="Why the job failed (FAILED only).")
    result: dict[str, Any] | None = Field(
        description=(
            "What the job produced, once it ends. An export: fileName, rowCount, sizeBytes, "
            "format and fileUrl (its download; null once its files are deleted). An import: "
            "importedCount, skippedCount, totalRows, errors (the first skipped rows, each "
            "{row, message}), fileName and errorReportUrl (the skipped rows as CSV; null "
            "when none was skipped or the files are deleted). filesDeleted: true once the "
            "job's files are deleted."
        )
    )
    updated_at: Timestamp
    # Beyond the contract: what the pages and scripts use.
    message: str = Field(description="What the job is doing, in words.")
    rows_per_second: float | None = Field(
        json_schema_extra={"minimum": 0},
        description=(
            "Rows the current step processes per second, smoothed. PROCESSING only; null "
            "until known (the first seconds, or no rows counted yet) and once the job ends."
        ),
    )
    eta_seconds: int | None = Field(
        json_schema_extra={"minimum": 0},
        description=(
            "About how many seconds are left, from the progress's smoothed pace. PROCESSING "
            "only; null until known (the first seconds, or under 2 points of progress) and "
            "once the job ends."
        ),
    )
    kind: JobKind
    dataset: str
    version: int = Field(
        json_schema_extra={"minimum": 1},
        description="Bumps on every change (the stream's event id).",
    )
    attempt: int = Field(
        default=1,
        json_schema_extra={"minimum": 1},
        description=(
            "Which run of the job this is: 1, or more once a restart of the server (or a "
            "lost worker) interrupted it and it was started again by itself."
        ),
    )
    retry_of: uuid.UUID | None = Field(description="The job this one retries.")
    commit_of: uuid.UUID | None = Field(description="The dry run this import carries out.")
    undo_of: uuid.UUID | None = Field(description="The import this job undoes.")
    undone_by: uuid.UUID | None = Field(description="The job that undid this import.")
    fix_of: uuid.UUID | None = Field(
        description="The import whose skipped rows, fixed, this import takes in."
    )
    created_at: Timestamp
    started_at: Timestamp | None
    finished_at: Timestamp | None

    @property
    def is_final(self) -> bool:
        return self.status.is_final


class JobList(Schema):
    jobs: list[JobPublic]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page."
    )


class CreatedJobPublic(JobPublic):
    """A new job, with the access token that lets a page or a link follow it (read-only)."""

    access_token: str
    access_token_expires_at: Timestamp


class AccessTokenPublic(Schema):
    """A fresh read-only access token for one job: pass it as `?token=`."""

    job_id: uuid.UUID
    access_token: str
    access_token_expires_at: Timestamp


class ErrorBody(Schema):
    """Every error the API answers (status 4xx and 5xx)."""

    error: str = Field(description="What went wrong, as a sentence for a person.")
    status: int = Field(description="The HTTP status code again.")


# --- the stream's messages (GET /jobs/ws, see the job-status-sse contract) --------------


class ConnectedMessage(Schema):
    type: Literal["connected"] = "connected"
    job_id: uuid.UUID


class ErrorMessage(Schema):
    type: Literal["error"] = "error"
    message: str


class _StatusUpdateType(Schema):
    type: Literal["status_update"] = "status_update"


class StatusUpdateMessage(JobPublic, _StatusUpdateType):
    """`{"type": "status_update", ...the job JSON}`: `type` first (pydantic puts the fields
    of the later base first), then every field of JobPublic in its order."""

    @classmethod
    def of(cls, job: JobPublic) -> StatusUpdateMessage:
        # Already validated as JobPublic: copy its values rather than validate them again.
        return cls.model_construct(**dict(job))


# --- inspecting a file before importing it (POST /jobs/inspect) -------------------------


class InspectionPublic(Schema):
    """A stored upload's start and the column mapping suggested for it."""

    upload_id: uuid.UUID = Field(description="Pass as `uploadId` to import this file.")
    file_name: str
    format: Literal["csv", "jsonl", "xlsx"]
    encoding: str | None = Field(description="The text encoding read (text files).")
    delimiter: str | None = Field(description="The cell delimiter (delimited text).")
    sheets: list[str] | None = Field(description="A workbook's sheet names; null for text.")
    sheet: str | None = Field(description="The sheet previewed (workbooks).")
    columns: list[str] = Field(description="The file's headers, in order.")
    sample_rows: list[list[str | None]] = Field(
        description="The first rows, one cell per column (null where blank)."
    )
    suggested_mapping: dict[str, str | None] = Field(
        description="Every field of the dataset -> the column suggested for it, or null."
    )
    missing_required: list[str] = Field(description="Required fields no column was found for.")
    remembered_mapping: bool = Field(
        description="The suggestion is the mapping you last used for these headers."
    )


# --- the rows an import skipped, to fix (jobs_ui/api/fixes.py) ------------------------

CellText = Annotated[str | None, Field(max_length=32 * 1024)]


class RowErrorPublic(Schema):
    field: str | None = Field(description="The field at fault; null: the row as a whole.")
    message: str


class RejectedRowPublic(Schema):
    row: int = Field(description="The row's number in the file, as the error report gives it.")
    values: dict[str, str | None] = Field(description="Field -> the text the file gave it.")
    errors: list[RowErrorPublic]


class RejectedRowsPage(Schema):
    total: int = Field(description="The rows skipped (of `reason`, if given), not this page's.")
    fields: list[str] = Field(description="The fields the import took, in column order.")
    rows: list[RejectedRowPublic]


class EditedRowIn(Schema):
    row: int = Field(ge=1, description="The row's number, as `GET .../rejected` gave it.")
    values: dict[str, CellText] = Field(
        max_length=500, description="Field -> text; a field left out keeps the file's value."
    )


class EditedRowsIn(Schema):
    """Edited rows to import (the body's cap, 8 MB, may come first)."""

    rows: list[EditedRowIn] = Field(min_length=1, max_length=10_000)


class RowsToCheckIn(Schema):
    """Edited rows to check, a page's worth at most."""

    rows: list[EditedRowIn] = Field(min_length=1, max_length=500)


class CheckedRowPublic(Schema):
    row: int
    errors: list[RowErrorPublic] = Field(description="Empty: the row would be imported.")


class CheckedRows(Schema):
    rows: list[CheckedRowPublic]


# --- webhooks (POST /webhooks, GET /webhooks/{id}/deliveries) ---------------------------


class WebhookEvent(StrEnum):
    """What a webhook may be told of: a job's end, one per final status, and its progress
    (at most every 10 s per job and endpoint)."""

    JOB_COMPLETED = "job.completed"
    JOB_FAILED = "job.failed"
    JOB_CANCELLED = "job.cancelled"
    JOB_PROGRESS = "job.progress"


class DeliveryStatus(StrEnum):
    PENDING = "PENDING"  # waiting for its first attempt or its next one
    DELIVERED = "DELIVERED"  # a 2xx answer came
    FAILED = "FAILED"  # given up: no 2xx answer within the retry window (24 h)
    SUPERSEDED = "SUPERSEDED"  # a progress update not yet sent when a newer one of its job came


DatasetName = Annotated[str, Field(min_length=1, max_length=64)]


class WebhookIn(Schema):
    """A webhook to register. Unknown fields are refused: a misspelt `datasets` must not
    quietly register a webhook for every dataset."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        min_length=1,
        max_length=2048,
        json_schema_extra={"format": "uri"},
        description=(
            "Where to POST: http or https, a host that resolves to public addresses only "
            "(unless the deployment allows private ones), no user name or password."
        ),
    )
    events: list[WebhookEvent] = Field(min_length=1, max_length=len(WebhookEvent))
    datasets: list[DatasetName] | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="Only jobs of these datasets; left out or null: every dataset.",
    )


class WebhookPublic(Schema):
    """A registered webhook, as its owner lists it (never with its secret)."""

    id: uuid.UUID
    url: str
    events: list[WebhookEvent]
    datasets: list[str] | None = Field(description="Only jobs of these datasets; null: all.")
    created_at: Timestamp


class CreatedWebhookPublic(WebhookPublic):
    """A new webhook with its signing secret: shown this once, never again."""

    secret: str = Field(
        description=(
            "`whsec_` and the base64 of the key that signs each delivery (the Standard "
            "Webhooks scheme): the HMAC-SHA256 key is the base64-decoded part."
        )
    )


class WebhookList(Schema):
    webhooks: list[WebhookPublic]


class DeliveryAttemptPublic(Schema):
    attempted_at: Timestamp
    status_code: int | None = Field(description="The answer's status; null: none came.")
    error: str | None = Field(description="Why it did not count as delivered; null if it did.")
    duration_ms: int | None = Field(
        json_schema_extra={"minimum": 0},
        description="How long it took; null if the process sending it stopped first.",
    )


class DeliveryPublic(Schema):
    """One message to a webhook, with each attempt to deliver it."""

    id: uuid.UUID = Field(description="The message's Webhook-Id header, the same every try.")
    event: WebhookEvent
    job_id: uuid.UUID
    status: DeliveryStatus
    created_at: Timestamp
    next_attempt_at: Timestamp | None = Field(description="PENDING only: when it is tried next.")
    delivered_at: Timestamp | None
    attempts: list[DeliveryAttemptPublic] = Field(description="Oldest first.")


class DeliveryList(Schema):
    deliveries: list[DeliveryPublic] = Field(description="Newest first.")
