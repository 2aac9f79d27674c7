"""REST routes for jobs: create imports and exports, read, list, cancel, retry."""

from __future__ import annotations

import os
import shutil
import uuid
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException

from jobs_ui.api.deps import OwnerDep, ServicesDep, parse_job_id
from jobs_ui.api.errors import ApiError
from jobs_ui.api.uploads import save_upload, too_large_message, with_body_limit
from jobs_ui.datasets import UnknownDatasetError, registry
from jobs_ui.engines.formats import FileFormat, format_from_filename
from jobs_ui.models import FINAL_STATUSES, Job, JobKind, JobStatus, job_public
from jobs_ui.runner import QueueUnavailableError
from jobs_ui.services import Services

router = APIRouter(prefix="/api/import-export/jobs", tags=["jobs"])

QUEUE_DOWN = (
    "The job queue cannot be reached right now, so the job could not start. Try again shortly."
)

# Room for the multipart framing and the small fields around the file itself.
MULTIPART_OVERHEAD = 64 * 1024


class ExportRequest(BaseModel):
    dataset: str = Field(min_length=1, max_length=64)
    format: Literal["csv", "jsonl", "xlsx"] = "csv"
    filter: str | None = Field(default=None, max_length=200)


def _known_dataset(name: str) -> str:
    try:
        return registry.get(name).name
    except UnknownDatasetError as error:
        raise ApiError(422, str(error)) from None


def _job_or_404(services: Services, raw_id: str) -> Job:
    job = services.store.get(parse_job_id(raw_id))
    if job is None:
        raise ApiError(404, "Job not found")
    return job


@router.post("/import", status_code=201)
async def create_import(
    request: Request,
    services: ServicesDep,
    owner: OwnerDep,
) -> dict[str, Any]:
    """Multipart `file` + `dataset` -> a PENDING import job."""
    limit = services.settings.max_upload_bytes
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise ApiError(415, "Send the upload as multipart/form-data with fields file and dataset.")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + MULTIPART_OVERHEAD:
        raise ApiError(413, too_large_message(limit))
    if not declared.isdigit():
        request = with_body_limit(request, limit, overhead=MULTIPART_OVERHEAD)
    try:
        form = await request.form(max_files=1, max_fields=10)
    except MultiPartException as error:
        raise ApiError(400, f"The upload could not be read: {error.message}") from None
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise ApiError(400, "Attach the file to import in the field named file.")
        dataset_name = form.get("dataset")
        if not isinstance(dataset_name, str) or not dataset_name.strip():
            raise ApiError(400, f"Say which dataset to import into: {', '.join(registry.names())}.")
        dataset = _known_dataset(dataset_name.strip())
        file_format = format_from_filename(upload.filename)
        if file_format is None:
            raise ApiError(
                415, "Unsupported file type: upload a .csv, .tsv, .txt, .jsonl or .xlsx file."
            )
        job = await run_in_threadpool(
            _store_upload_and_create, services, upload, dataset, file_format, owner
        )
    finally:
        await form.close()
    return _submit(services, job)


def _submit(services: Services, job: Job) -> dict[str, Any]:
    """Hand a new job to the runner; if the queue cannot take it, the job ends FAILED."""
    try:
        services.runner.submit(job.id)
    except QueueUnavailableError:
        services.store.fail_unstarted(job.id, error=QUEUE_DOWN)
        raise ApiError(503, QUEUE_DOWN) from None
    return job_public(job)


def _store_upload_and_create(
    services: Services, upload: UploadFile, dataset: str, file_format: FileFormat, owner: str
) -> Job:
    job_id = uuid.uuid4()
    filename = upload.filename or "upload"
    path = services.files.upload_path(job_id, filename)
    size = save_upload(upload.file, path, limit=services.settings.max_upload_bytes)
    params = {
        "upload": services.files.relative(path),
        "fileName": filename,
        "format": file_format.value,
        "sizeBytes": size,
    }
    try:
        return services.store.create(
            job_id=job_id, kind=JobKind.IMPORT, dataset=dataset, owner=owner, params=params
        )
    except BaseException:
        shutil.rmtree(path.parent, ignore_errors=True)  # no job, so nothing may keep the file
        raise


@router.post("/export", status_code=201)
def create_export(
    body: ExportRequest,
    services: ServicesDep,
    owner: OwnerDep,
) -> dict[str, Any]:
    """JSON `{dataset, format, filter?}` -> a PENDING export job."""
    dataset = _known_dataset(body.dataset)
    params = {"format": body.format, "filter": (body.filter or "").strip() or None}
    job = services.store.create(kind=JobKind.EXPORT, dataset=dataset, owner=owner, params=params)
    return _submit(services, job)


@router.get("")
@router.get("/", include_in_schema=False)
def list_jobs(
    services: ServicesDep,
    owner: OwnerDep,
    limit: int = Query(default=50, ge=1, le=200),
) -> dict[str, Any]:
    """The caller's recent jobs, newest first."""
    jobs = services.store.list_for_owner(owner=owner, limit=limit)
    return {"jobs": [job_public(job) for job in jobs]}


@router.get("/{job_id}")
def get_job(job_id: str, services: ServicesDep) -> dict[str, Any]:
    """One job: the polling endpoint."""
    return job_public(_job_or_404(services, job_id))


@router.post("/{job_id}/cancel")
def cancel_job(job_id: str, services: ServicesDep) -> dict[str, Any]:
    """A pending job is cancelled at once; a running one stops at its next chunk."""
    job = _job_or_404(services, job_id)
    if job.status in FINAL_STATUSES:
        raise ApiError(409, f"The job has already ended ({job.status.value}).")
    services.runner.cancel(job.id)
    updated = services.store.request_cancel(job.id) or job
    return job_public(updated)


@router.post("/{job_id}/retry", status_code=201)
def retry_job(
    job_id: str,
    services: ServicesDep,
    owner: OwnerDep,
) -> dict[str, Any]:
    """Run a FAILED or CANCELLED job again, as a new job from the same input."""
    job = _job_or_404(services, job_id)
    if job.status not in (JobStatus.FAILED, JobStatus.CANCELLED):
        raise ApiError(
            409, f"Only failed or cancelled jobs can be retried; this one is {job.status.value}."
        )
    retry_id = uuid.uuid4()
    params = dict(job.params)
    if job.kind is JobKind.IMPORT:
        params["upload"] = _own_copy_of_upload(services, job, retry_id)
    retry = services.store.create(
        kind=job.kind,
        dataset=job.dataset,
        owner=owner,
        params=params,
        retry_of=job.id,
        job_id=retry_id,
    )
    return _submit(services, retry)


def _own_copy_of_upload(services: Services, job: Job, retry_id: uuid.UUID) -> str:
    """The retry's own upload (a hard link where the disk allows), so each job's files live
    and expire with that job (see jobs_ui/retention.py)."""
    source = services.files.resolve(job.params["upload"])
    target = services.files.upload_path(retry_id, source.name)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except FileNotFoundError:
        shutil.rmtree(target.parent, ignore_errors=True)
        raise ApiError(
            410, "The uploaded file of this job is no longer stored; upload it again."
        ) from None
    except OSError:  # another file system, or links not allowed: copy instead
        shutil.copyfile(source, target)
    return services.files.relative(target)
