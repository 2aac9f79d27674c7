"""REST routes for the rows an import skipped: read them, check edited ones, import them.

Thin, as every route: `jobs_ui.jobs.commands.fixes` decides who may, and does it.
"""

from __future__ import annotations

from fastapi import APIRouter, Query

from jobs_ui.api.deps import ActorDep, JobIdPath, ReaderDep, ServicesDep
from jobs_ui.api.errors import GUARDED_POST, error_responses
from jobs_ui.api.jobs import created_public
from jobs_ui.engines.rejected_rows import RejectedError
from jobs_ui.engines.row_errors import Problem
from jobs_ui.jobs.commands.fixes import MAX_PAGE_ROWS
from jobs_ui.schemas import (
    CheckedRowPublic,
    CheckedRows,
    CreatedJobPublic,
    EditedRowsIn,
    RejectedRowPublic,
    RejectedRowsPage,
    RowErrorPublic,
    RowsToCheckIn,
)
from jobs_ui.urls import JOBS_API

router = APIRouter(prefix=JOBS_API, tags=["fixes"])

ROWS_SUFFIXES = ("/rejected/validate", "/rejected/import")
"""The ends of the JSON routes that take rows (their body cap is the larger one)."""


@router.get(
    "/{job_id}/rejected",
    response_model=RejectedRowsPage,
    responses=error_responses(404, 409, 410, 422),
)
def rejected_rows(
    job_id: JobIdPath,
    services: ServicesDep,
    principal: ReaderDep,
    offset: int = Query(default=0, ge=0, le=100_000_000),
    limit: int = Query(default=100, ge=1, le=MAX_PAGE_ROWS),
    reason: str | None = Query(
        default=None,
        max_length=1000,
        description="Only the rows with this problem (an `errorSummary` entry's `message`).",
    ),
) -> RejectedRowsPage:
    """The rows a completed import (or dry run) skipped, in file order, a page at a time,
    each with its values as the file gave them and its problems."""
    fields, page = services.commands.rejected_rows(
        principal,
        job_id,
        offset=offset,
        limit=limit,
        reason=reason or None,  # empty: all
    )
    return RejectedRowsPage(
        total=page.total,
        fields=fields,
        rows=[
            RejectedRowPublic(row=row.row, values=row.values, errors=_errors(row.errors))
            for row in page.rows
        ],
    )


@router.post(
    "/{job_id}/rejected/validate",
    response_model=CheckedRows,
    responses=error_responses(*GUARDED_POST, 404, 409, 410, 422),
)
def validate_rejected_rows(
    job_id: JobIdPath, body: RowsToCheckIn, services: ServicesDep, principal: ActorDep
) -> CheckedRows:
    """Check edited rows (at most 500) as the import would, now: `errors` empty means the
    row would be imported."""
    found = services.commands.check_fixed_rows(principal, job_id, _edited(body))
    return CheckedRows(
        rows=[
            CheckedRowPublic(row=number, errors=_problems(problems))
            for number, problems in sorted(found.items())
        ]
    )


@router.post(
    "/{job_id}/rejected/import",
    status_code=201,
    response_model=CreatedJobPublic,
    responses=error_responses(*GUARDED_POST, 404, 409, 410, 422, 429, 503),
)
def import_rejected_rows(
    job_id: JobIdPath, body: EditedRowsIn, services: ServicesDep, principal: ActorDep
) -> CreatedJobPublic:
    """Import the edited rows alone, as a new job (`fixOf` set) with the first import's
    mode and mapping; rows still wrong are skipped with their reasons."""
    return created_public(services.commands.import_fixed_rows(principal, job_id, _edited(body)))


def _edited(body: EditedRowsIn | RowsToCheckIn) -> list[tuple[int, dict[str, str | None]]]:
    return [(row.row, dict(row.values)) for row in body.rows]


def _errors(errors: list[RejectedError]) -> list[RowErrorPublic]:
    return [RowErrorPublic(field=error.field, message=error.message) for error in errors]


def _problems(problems: list[Problem]) -> list[RowErrorPublic]:
    return [RowErrorPublic(field=each.field, message=each.sentence) for each in problems]
