"""REST routes for jobs: create imports and exports, read, list, cancel, retry, tokens.

Routes stay thin: who may do what is decided in `jobs_ui.jobs.commands`, for the pages too.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException

from jobs_ui.access.tokens import AccessToken
from jobs_ui.api.deps import ActorDep, ReaderDep, ServicesDep, parse_job_id
from jobs_ui.api.errors import ApiError
from jobs_ui.datasets import registry
from jobs_ui.jobs.commands import CreatedJob
from jobs_ui.models import JobKind, JobStatus, iso_utc, job_public
from jobs_ui.urls import JOBS_API

router = APIRouter(prefix=JOBS_API, tags=["jobs"])


class ExportRequest(BaseModel):
    dataset: str = Field(min_length=1, max_length=64)
    format: Literal["csv", "jsonl", "xlsx"] = "csv"
    filter: str | None = Field(default=None, max_length=200)


def token_public(token: AccessToken) -> dict[str, Any]:
    return {"accessToken": token.token, "accessTokenExpiresAt": iso_utc(token.expires_at)}


def created_public(created: CreatedJob) -> dict[str, Any]:
    """A new job's JSON, with the access token that lets a page or a link follow it."""
    return {**job_public(created.job), **token_public(created.token)}


@router.post("/import", status_code=201)
async def create_import(
    request: Request, services: ServicesDep, principal: ActorDep
) -> dict[str, Any]:
    """Multipart `file` + `dataset` -> a PENDING import job."""
    if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        raise ApiError(415, "Send the upload as multipart/form-data with fields file and dataset.")
    commands = services.commands
    # Before the body is read: a caller at a limit does not get to send 200 MB first.
    await run_in_threadpool(commands.check_can_start, principal)
    try:
        form = await request.form(max_files=1, max_fields=10)
    except MultiPartException as error:
        raise ApiError(400, f"The upload could not be read: {error.message}") from None
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise ApiError(400, "Attach the file to import in the field named file.")
        dataset = form.get("dataset")
        if not isinstance(dataset, str) or not dataset.strip():
            raise ApiError(400, f"Say which dataset to import into: {', '.join(registry.names())}.")
        created = await run_in_threadpool(
            commands.create_import,
            principal,
            dataset=dataset,
            filename=upload.filename,
            source=upload.file,
        )
    finally:
        await form.close()
    return created_public(created)


@router.post("/export", status_code=201)
def create_export(
    body: ExportRequest, services: ServicesDep, principal: ActorDep
) -> dict[str, Any]:
    """JSON `{dataset, format, filter?}` -> a PENDING export job."""
    created = services.commands.create_export(
        principal, dataset=body.dataset, file_format=body.format, search=body.filter
    )
    return created_public(created)


@router.get("")
@router.get("/", include_in_schema=False)
def list_jobs(
    services: ServicesDep,
    principal: ActorDep,
    limit: int = Query(default=50, ge=1, le=200),
    cursor: str | None = Query(default=None, max_length=200),
    status: JobStatus | None = None,
    kind: JobKind | None = None,
) -> dict[str, Any]:
    """The caller's jobs, newest first, a page at a time (pass `nextCursor` as `cursor`)."""
    page = services.commands.list_jobs(
        principal, limit=limit, cursor=cursor, status=status, kind=kind
    )
    return {"jobs": [job_public(job) for job in page.jobs], "nextCursor": page.next_cursor}


@router.get("/{job_id}")
def get_job(job_id: str, services: ServicesDep, principal: ReaderDep) -> dict[str, Any]:
    """One job: the polling endpoint."""
    return job_public(services.commands.visible_job(principal, parse_job_id(job_id)))


@router.post("/{job_id}/cancel")
def cancel_job(job_id: str, services: ServicesDep, principal: ActorDep) -> dict[str, Any]:
    """A pending job is cancelled at once; a running one stops at its next chunk."""
    return job_public(services.commands.cancel(principal, parse_job_id(job_id)))


@router.post("/{job_id}/retry", status_code=201)
def retry_job(job_id: str, services: ServicesDep, principal: ActorDep) -> dict[str, Any]:
    """Run a FAILED or CANCELLED job again, as a new job from the same input."""
    return created_public(services.commands.retry(principal, parse_job_id(job_id)))


@router.post("/{job_id}/token", status_code=201)
def mint_access_token(job_id: str, services: ServicesDep, principal: ActorDep) -> dict[str, Any]:
    """A fresh read-only access token for one job (its owner only)."""
    token = services.commands.access_token(principal, parse_job_id(job_id))
    return {"jobId": str(token.job_id), **token_public(token)}
