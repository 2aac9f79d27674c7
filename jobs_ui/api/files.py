"""Downloads: an export's file and an import's error report."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from starlette.responses import FileResponse

from jobs_ui.api.deps import ReaderDep, ServicesDep, parse_job_id
from jobs_ui.urls import JOBS_API

router = APIRouter(prefix=JOBS_API, tags=["files"])

MEDIA_TYPES = {
    ".csv": "text/csv; charset=utf-8",
    ".jsonl": "application/x-ndjson",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _attachment(path: Path, filename: str) -> FileResponse:
    media_type = MEDIA_TYPES.get(path.suffix, "application/octet-stream")
    # Private to its owner: no shared cache may keep a copy.
    return FileResponse(
        path,
        media_type=media_type,
        filename=filename,
        headers={"Cache-Control": "private, no-store"},
    )


@router.get("/{job_id}/download")
def download_export(job_id: str, services: ServicesDep, principal: ReaderDep) -> FileResponse:
    """The file a completed export wrote (streamed from disk)."""
    return _attachment(*services.commands.export_file(principal, parse_job_id(job_id)))


@router.get("/{job_id}/error-report")
def download_error_report(job_id: str, services: ServicesDep, principal: ReaderDep) -> FileResponse:
    """Every row an import skipped, with the reason, as CSV."""
    return _attachment(*services.commands.error_report(principal, parse_job_id(job_id)))
