"""REST routes for jobs: create imports and exports, read, list, cancel, retry, commit a dry
run, undo an import, tokens.

Routes stay thin: who may do what is decided in `jobs_ui.jobs.commands`, for the pages too.
Each returns a model of `jobs_ui.schemas` and declares it, and every error it can answer.
"""

from __future__ import annotations

import contextlib
import functools
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException

from jobs_ui.access.tokens import AccessToken
from jobs_ui.api.deps import ActorDep, JobIdPath, ReaderDep, ServicesDep
from jobs_ui.api.errors import GUARDED_POST, ApiError, error_responses
from jobs_ui.datasets import registry
from jobs_ui.engines.modes import ImportMode, parse_mode
from jobs_ui.jobs.commands import CreatedJob
from jobs_ui.jobs.import_inputs import Inspection
from jobs_ui.models import JobKind, JobStatus, job_public
from jobs_ui.schemas import (
    AccessTokenPublic,
    CreatedJobPublic,
    InspectionPublic,
    JobList,
    JobPublic,
)
from jobs_ui.urls import JOBS_API

router = APIRouter(prefix=JOBS_API, tags=["jobs"])

IMPORT_FORM = "ImportForm"
"""The import's multipart body, as a component (jobs_ui.api.app fills in the datasets)."""
INSPECT_FORM = "InspectForm"
MAX_FIELD_CHARS = 255  # a sheet name or an upload id
MAX_MAPPING_CHARS = 32 * 1024
MAPPING_SHAPE = (
    'mapping must be a JSON object of field -> column header (or null), e.g. {"name": '
    '"Full Name", "email": "E-mail"}.'
)
IMPORT_FILE_NAME = 'form-data; name="file"; filename="contacts.csv"'
CURSOR_FORMAT = "jobs-cursor"


class ExportRequest(BaseModel):
    dataset: str = Field(min_length=1, max_length=64)
    format: Literal["csv", "jsonl", "xlsx"] = "csv"
    filter: str | None = Field(default=None, max_length=200)


def created_public(created: CreatedJob) -> CreatedJobPublic:
    """A new job's JSON, with the access token that lets a page or a link follow it."""
    token = created.token
    return CreatedJobPublic(
        **dict(job_public(created.job)),
        access_token=token.token,
        access_token_expires_at=token.expires_at,
    )


def token_public(token: AccessToken) -> AccessTokenPublic:
    return AccessTokenPublic(
        job_id=token.job_id, access_token=token.token, access_token_expires_at=token.expires_at
    )


def form_body(component: str) -> dict[str, Any]:
    """The multipart body of an upload route, as a component (jobs_ui.api.app fills it in).

    Read by the route itself (request.form), after the caller is known to be able to start
    a job: so declared here rather than as parameters."""
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {"$ref": f"#/components/schemas/{component}"},
                    "encoding": {
                        "file": {
                            "contentType": "application/octet-stream",
                            # The file name's extension says how to read it.
                            "headers": {
                                "Content-Disposition": {
                                    "schema": {"type": "string", "example": IMPORT_FILE_NAME}
                                }
                            },
                        }
                    },
                }
            },
        }
    }


@router.post(
    "/inspect",
    response_model=InspectionPublic,
    responses=error_responses(*GUARDED_POST, 404, 415, 422, 429),
    openapi_extra=form_body(INSPECT_FORM),
)
async def inspect_file(
    request: Request, services: ServicesDep, principal: ActorDep
) -> InspectionPublic:
    """Multipart `file` + `dataset` (or `uploadId` of a file inspected before, to see
    another `sheet`) -> its columns, first rows and the suggested mapping. The file is kept
    under `uploadId` for 24 hours: import it with that id instead of sending it again."""
    commands = services.commands
    await run_in_threadpool(commands.check_can_inspect, principal)
    async with multipart_form(request) as form:
        dataset = _dataset_field(form)
        sheet = _optional_text(form, "sheet")
        upload_id = _upload_id(form)
        if upload_id is not None:
            if isinstance(form.get("file"), UploadFile):
                raise ApiError(400, "Send either the file or an uploadId, not both.")
            inspection = await run_in_threadpool(
                commands.inspect_upload, principal, upload_id, dataset=dataset, sheet=sheet
            )
        else:
            upload = _file_field(form)
            inspection = await run_in_threadpool(
                functools.partial(
                    commands.inspect,
                    principal,
                    dataset=dataset,
                    filename=str(upload.filename),
                    source=upload.file,
                    sheet=sheet,
                )
            )
    return inspection_public(inspection)


@router.post(
    "/import",
    status_code=201,
    response_model=CreatedJobPublic,
    responses=error_responses(*GUARDED_POST, 404, 415, 422, 429, 503),
    openapi_extra=form_body(IMPORT_FORM),
)
async def create_import(
    request: Request, services: ServicesDep, principal: ActorDep
) -> CreatedJobPublic:
    """Multipart `file` (or `uploadId` from /inspect) + `dataset`, with an optional
    `mapping` (a JSON object field -> column; a field left out or null is not imported),
    `sheet`, `mode` (insert, upsert, update) and `dryRun` -> a PENDING import job. Without
    `mapping`, the one /inspect suggests is used."""
    commands = services.commands
    # Before the body is read: a caller at a limit does not get to send 200 MB first.
    await run_in_threadpool(commands.check_can_start, principal)
    async with multipart_form(request) as form:
        dataset = _dataset_field(form)
        options: dict[str, Any] = {
            "dataset": dataset,
            "mapping": _mapping_field(form),
            "sheet": _optional_text(form, "sheet"),
            "mode": _mode_field(form),
            "dry_run": _flag_field(form, "dryRun"),
        }
        upload_id = _upload_id(form)
        if upload_id is not None:
            if isinstance(form.get("file"), UploadFile):
                raise ApiError(400, "Send either the file or an uploadId, not both.")
            options["upload_id"] = upload_id
        else:
            upload = _file_field(form)
            options |= {"filename": upload.filename, "source": upload.file}
        created = await run_in_threadpool(
            functools.partial(commands.create_import, principal, **options)
        )
    return created_public(created)


@contextlib.asynccontextmanager
async def multipart_form(request: Request) -> AsyncIterator[FormData]:
    if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        raise ApiError(415, "Send the upload as multipart/form-data with fields file and dataset.")
    try:
        form = await request.form(max_files=1, max_fields=10)
    except MultiPartException as error:
        raise ApiError(400, f"The upload could not be read: {error.message}") from None
    try:
        yield form
    finally:
        await form.close()


def _file_field(form: FormData) -> UploadFile:
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise ApiError(400, "Attach the file to import in the field named file.")
    return upload


def _dataset_field(form: FormData) -> str:
    dataset = form.get("dataset")
    if not isinstance(dataset, str) or not dataset.strip():
        raise ApiError(400, f"Say which dataset to import into: {', '.join(registry.names())}.")
    return dataset


def _optional_text(form: FormData, name: str) -> str | None:
    value = form.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > MAX_FIELD_CHARS:
        raise ApiError(
            422, f"The field {name} must be text of at most {MAX_FIELD_CHARS} characters."
        )
    return value


def _upload_id(form: FormData) -> uuid.UUID | None:
    if form.get("uploadId") is None:
        return None
    text = _optional_text(form, "uploadId") or ""
    try:
        return uuid.UUID(text)
    except ValueError:
        raise ApiError(422, "uploadId is not valid; use the uploadId /inspect answered.") from None


def _mode_field(form: FormData) -> ImportMode:
    try:
        return parse_mode(_optional_text(form, "mode"))
    except ValueError as error:
        raise ApiError(422, str(error)) from None


def _flag_field(form: FormData, name: str) -> bool:
    text = (_optional_text(form, name) or "false").strip().lower()
    if text not in ("true", "false"):
        raise ApiError(422, f"The field {name} must be true or false.")
    return text == "true"


def _mapping_field(form: FormData) -> dict[str, object] | None:
    value = form.get("mapping")
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > MAX_MAPPING_CHARS:
        raise ApiError(422, MAPPING_SHAPE)
    try:
        mapping = json.loads(value)
    except (ValueError, RecursionError):  # RecursionError: nested thousands deep
        raise ApiError(422, MAPPING_SHAPE) from None
    if not isinstance(mapping, dict) or not all(
        column is None or isinstance(column, str) for column in mapping.values()
    ):
        raise ApiError(422, MAPPING_SHAPE)
    return mapping


def inspection_public(inspection: Inspection) -> InspectionPublic:
    preview = inspection.preview
    return InspectionPublic(
        upload_id=inspection.upload.id,
        file_name=inspection.upload.file_name,
        format=preview.format.value,
        encoding=preview.encoding,
        delimiter=preview.delimiter,
        sheets=preview.sheets,
        sheet=preview.sheet,
        columns=preview.columns,
        sample_rows=preview.sample_rows,
        suggested_mapping=inspection.suggested,
        missing_required=inspection.missing_required,
        remembered_mapping=inspection.remembered,
    )


@router.post(
    "/export",
    status_code=201,
    response_model=CreatedJobPublic,
    responses=error_responses(*GUARDED_POST, 422, 429, 503),
)
def create_export(
    body: ExportRequest, services: ServicesDep, principal: ActorDep
) -> CreatedJobPublic:
    """JSON `{dataset, format, filter?}` -> a PENDING export job."""
    created = services.commands.create_export(
        principal, dataset=body.dataset, file_format=body.format, search=body.filter
    )
    return created_public(created)


@router.get("", response_model=JobList, responses=error_responses(422))
@router.get("/", response_model=JobList, include_in_schema=False)
def list_jobs(
    services: ServicesDep,
    principal: ActorDep,
    limit: int = Query(default=50, ge=1, le=200),
    cursor: str | None = Query(
        default=None,
        max_length=200,
        # Not any string: one this API handed out (else 400). A format of its own says so.
        json_schema_extra={"format": CURSOR_FORMAT},
        description="`nextCursor` of the page before, as it was given.",
    ),
    status: JobStatus | None = None,
    kind: JobKind | None = None,
) -> JobList:
    """The caller's jobs, newest first, a page at a time (pass `nextCursor` as `cursor`)."""
    page = services.commands.list_jobs(
        principal, limit=limit, cursor=cursor, status=status, kind=kind
    )
    return JobList(jobs=[job_public(job) for job in page.jobs], next_cursor=page.next_cursor)


@router.get("/{job_id}", response_model=JobPublic, responses=error_responses(404))
def get_job(job_id: JobIdPath, services: ServicesDep, principal: ReaderDep) -> JobPublic:
    """One job: the polling endpoint."""
    return job_public(services.commands.visible_job(principal, job_id))


@router.post(
    "/{job_id}/cancel",
    response_model=JobPublic,
    responses=error_responses(*GUARDED_POST, 404, 409),
)
def cancel_job(job_id: JobIdPath, services: ServicesDep, principal: ActorDep) -> JobPublic:
    """A pending job is cancelled at once; a running one stops at its next chunk."""
    return job_public(services.commands.cancel(principal, job_id))


@router.post(
    "/{job_id}/retry",
    status_code=201,
    response_model=CreatedJobPublic,
    responses=error_responses(*GUARDED_POST, 404, 409, 410, 422, 429, 503),
)
def retry_job(job_id: JobIdPath, services: ServicesDep, principal: ActorDep) -> CreatedJobPublic:
    """Run a FAILED or CANCELLED job again, as a new job from the same input."""
    return created_public(services.commands.retry(principal, job_id))


@router.post(
    "/{job_id}/commit",
    status_code=201,
    response_model=CreatedJobPublic,
    responses=error_responses(*GUARDED_POST, 404, 409, 410, 429, 503),
)
def commit_dry_run(
    job_id: JobIdPath, services: ServicesDep, principal: ActorDep
) -> CreatedJobPublic:
    """Import what a completed dry run checked, as a new job (its owner only, once): the same
    upload, mapping and mode, the rows not read again, the counts taken at commit."""
    return created_public(services.commands.commit(principal, job_id))


@router.post(
    "/{job_id}/undo",
    status_code=201,
    response_model=CreatedJobPublic,
    responses=error_responses(*GUARDED_POST, 404, 409, 410, 429, 503),
)
def undo_import(job_id: JobIdPath, services: ServicesDep, principal: ActorDep) -> CreatedJobPublic:
    """Undo a completed import, as a new job: the rows it created are deleted and the rows
    it updated restored, except rows changed since (left as they are, counted as conflicts)."""
    return created_public(services.commands.undo(principal, job_id))


@router.post(
    "/{job_id}/token",
    status_code=201,
    response_model=AccessTokenPublic,
    responses=error_responses(*GUARDED_POST, 404),
)
def mint_access_token(
    job_id: JobIdPath, services: ServicesDep, principal: ActorDep
) -> AccessTokenPublic:
    """A fresh read-only access token for one job (its owner only)."""
    return token_public(services.commands.access_token(principal, job_id))
