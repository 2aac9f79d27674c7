"""Downloads: an export's file and an import's error report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter
from starlette.responses import FileResponse

from jobs_ui.api.deps import JobIdPath, ReaderDep, ServicesDep
from jobs_ui.api.errors import error_responses
from jobs_ui.urls import JOBS_API

router = APIRouter(prefix=JOBS_API, tags=["files"])

MEDIA_TYPES = {
    ".csv": "text/csv; charset=utf-8",
    ".jsonl": "application/x-ndjson",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
FILE_BODY = {"schema": {"type": "string", "format": "binary"}}


def _file_response(description: str, media_types: list[str]) -> dict[int | str, dict[str, Any]]:
    return {200: {"description": description, "content": dict.fromkeys(media_types, FILE_BODY)}}


def _attachment(path: Path, filename: str) -> FileResponse:
    media_type = MEDIA_TYPES.get(path.suffix, "application/octet-stream")
    # Private to its owner: no shared cache may keep a copy.
    return FileResponse(
        path,
        media_type=media_type,
        filename=filename,
        headers={"Cache-Control": "private, no-store"},
    )


@router.get(
    "/{job_id}/download",
    response_class=FileResponse,
    responses={
        **_file_response(
            "The export's file, as an attachment.",
            [media_type.split(";")[0] for media_type in MEDIA_TYPES.values()],
        ),
        **error_responses(404, 409, 410),
    },
)
def download_export(job_id: JobIdPath, services: ServicesDep, principal: ReaderDep) -> FileResponse:
    """The file a completed export wrote (streamed from disk)."""
    return _attachment(*services.commands.export_file(principal, job_id))


@router.get(
    "/{job_id}/error-report",
    response_class=FileResponse,
    responses={
        **_file_response("Every skipped row with the reason, as CSV.", ["text/csv"]),
        **error_responses(404, 410),
    },
)
def download_error_report(
    job_id: JobIdPath, services: ServicesDep, principal: ReaderDep
) -> FileResponse:
    """Every row an import skipped, with the reason, as CSV."""
    return _attachment(*services.commands.error_report(principal, job_id))
