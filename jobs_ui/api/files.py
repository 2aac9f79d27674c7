"""Downloads: an export's file and an import's error report."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from starlette.responses import FileResponse

from jobs_ui.api.deps import ServicesDep, parse_job_id
from jobs_ui.api.errors import ApiError
from jobs_ui.models import JobKind, JobStatus

router = APIRouter(prefix="/api/import-export/jobs", tags=["files"])

MEDIA_TYPES = {
    ".csv": "text/csv; charset=utf-8",
    ".jsonl": "application/x-ndjson",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _attachment(path: Path, filename: str) -> FileResponse:
    if not path.is_file():
        raise ApiError(410, "This file is no longer stored.")
    media_type = MEDIA_TYPES.get(path.suffix, "application/octet-stream")
    return FileResponse(path, media_type=media_type, filename=filename)


@router.get("/{job_id}/download")
def download_export(job_id: str, services: ServicesDep) -> FileResponse:
    """The file a completed export wrote (streamed from disk)."""
    job = services.store.get(parse_job_id(job_id))
    if job is None or job.kind is not JobKind.EXPORT:
        raise ApiError(404, "Export not found")
    if job.status is not JobStatus.COMPLETED or not job.result:
        raise ApiError(409, f"The export is not ready (it is {job.status.value}).")
    file_name = str(job.result["fileName"])
    return _attachment(services.files.export_path(job.id, file_name), file_name)


@router.get("/{job_id}/error-report")
def download_error_report(job_id: str, services: ServicesDep) -> FileResponse:
    """Every row an import skipped, with the reason, as CSV."""
    job = services.store.get(parse_job_id(job_id))
    if job is None or job.kind is not JobKind.IMPORT:
        raise ApiError(404, "Import not found")
    if job.status is not JobStatus.COMPLETED or not (job.result or {}).get("errorReportUrl"):
        raise ApiError(404, "This import has no error report.")
    stem = Path(str(job.params.get("fileName") or "import")).stem
    return _attachment(services.files.error_report_path(job.id), f"{stem}-errors.csv")
