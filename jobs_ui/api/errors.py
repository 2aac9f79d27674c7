"""Every error leaves the API as JSON a person can read: `{"error": "...", "status": n}`
(`jobs_ui.schemas.ErrorBody`), never a traceback; and each route declares the ones it can
answer (`error_responses`), so the OpenAPI document lists them.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from jobs_ui.access.identity import CredentialError
from jobs_ui.api.allowed import allow_header, method_table, route_path
from jobs_ui.jobs.commands import CommandError
from jobs_ui.schemas import ErrorBody

log = logging.getLogger(__name__)


class ApiError(HTTPException):
    """An expected failure with the status and sentence the client should see."""

    def __init__(
        self, status_code: int, message: str, *, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(status_code=status_code, detail=message, headers=headers)


def error_response(
    status_code: int, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"error": message, "status": status_code}, status_code=status_code, headers=headers
    )


# Why each status may be answered, as the OpenAPI document says it.
ERROR_REASONS = {
    400: "A malformed request: a job id that is not a UUID, an unreadable body or upload, "
    "an unknown host name.",
    401: "The credentials do not hold (an unknown API key, a bad or expired access token, "
    "or none where sign-in is required).",
    403: "Not allowed: an access token only reads its job; a dataset the caller may not use; "
    "a cookie-borne request from another site.",
    404: "No such job (or not the caller's: it reads exactly the same).",
    409: "The job is not in a state that allows this.",
    410: "The job's files are no longer stored.",
    413: "The body or file is too large, or the caller's stored files would pass its quota.",
    415: "The upload is not multipart/form-data, or not a supported file type.",
    422: "The request does not validate (the sentence says which field and why).",
    429: "Too many jobs running (or streams open) for this caller; see Retry-After.",
    503: "The job queue cannot be reached; the job was not started.",
}

# Every route can answer these: the guard refuses unknown host names (400), and credentials
# are checked on every route (401).
ALWAYS = (400, 401)
# The guard refuses these before the app on state-changing (POST) routes: a cookie-borne
# request from a foreign origin (403), a body over its cap (413).
GUARDED_POST = (403, 413)


def error_responses(
    *statuses: int,
    always: tuple[int, ...] = ALWAYS,
    reasons: dict[int, str] | None = None,
) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: each status it can answer, with the ErrorBody schema;
    `reasons` says why where a route's differ from the jobs' (ERROR_REASONS)."""
    said = {**ERROR_REASONS, **(reasons or {})}
    return {
        status: {"model": ErrorBody, "description": said[status]}
        for status in sorted({*always, *statuses})
    }


# The ids a path may carry: what each is called in a sentence.
PATH_IDS = {"job_id": ("jobId", "job id"), "webhook_id": ("webhookId", "webhook id")}


def _bad_path_id(error: RequestValidationError) -> str | None:
    """The sentence for an id in the path that is not a UUID (the caller's mistake, not a
    missing job or webhook: 400 as before the ids were typed)."""
    for problem in error.errors():
        location = tuple(problem.get("loc", ()))
        if len(location) == 2 and location[0] == "path" and location[1] in PATH_IDS:
            field, what = PATH_IDS[location[1]]
            raw = str(problem.get("input", ""))
            return f"{field} {raw[:64]!r} is not a valid {what} (a UUID)."
    return None


BODY_NEEDED = "Send a JSON object as the request body."


def _describe_validation(error: RequestValidationError) -> str:
    parts = []
    for problem in error.errors():
        if problem.get("type") == "json_invalid":
            return "The request body is not valid JSON."
        # Locations look like ("body", "format") or ("body", 0); only names help a person.
        names = [part for part in problem.get("loc", ()) if isinstance(part, str)]
        field = ".".join(name for name in names if name not in ("body", "query", "path"))
        if not field and names[:1] == ["body"]:
            return BODY_NEEDED
        message = str(problem.get("msg", "is not valid")).removeprefix("Value error, ")
        parts.append(f"{field}: {message}" if field else message)
    return "; ".join(parts) or "The request is not valid."


def install_error_handlers(api: FastAPI) -> None:
    @api.exception_handler(HTTPException)
    async def _http_error(_request: Request, error: HTTPException) -> JSONResponse:
        message = error.detail if isinstance(error.detail, str) else "Request failed."
        # Kept: a 405 says which methods the path allows (Allow), a 401 how to authenticate.
        return error_response(
            error.status_code, message, dict(error.headers) if error.headers else None
        )

    @api.exception_handler(CommandError)
    async def _refused(_request: Request, error: CommandError) -> JSONResponse:
        headers = {"Retry-After": str(error.retry_after)} if error.retry_after else {}
        if error.status == 401:  # says how to authenticate (RFC 9110, 15.5.2)
            headers["WWW-Authenticate"] = "Bearer"
        return error_response(error.status, error.message, headers or None)

    @api.exception_handler(CredentialError)
    async def _unauthenticated(_request: Request, error: CredentialError) -> JSONResponse:
        return error_response(401, error.message, {"WWW-Authenticate": "Bearer"})

    @api.exception_handler(ClientDisconnect)
    async def _gone(_request: Request, _error: ClientDisconnect) -> Response:
        # The client left mid-body (or the guard cut an oversized body off and answered
        # 413 itself): nobody reads this answer.
        return Response(status_code=400)

    @api.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        if (bad_id := _bad_path_id(error)) is not None:
            # `GET /jobs/import` is a method the import's path does not have, not a bad id.
            literal = method_table(request).literal(route_path(request.scope))
            if literal:
                message = f"{request.method} is not allowed on this path."
                return error_response(405, message, allow_header(literal))
            return error_response(400, bad_id)
        status = 400 if any(p.get("type") == "json_invalid" for p in error.errors()) else 422
        return error_response(status, _describe_validation(error))

    @api.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=error)
        return error_response(500, "Something went wrong on our side. Please try again.")
