"""Every error leaves the API as JSON a person can read: `{"error": "..."}`, never a traceback."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from jobs_ui.access.identity import CredentialError
from jobs_ui.jobs.commands import CommandError

log = logging.getLogger(__name__)


class ApiError(HTTPException):
    """An expected failure with the status and sentence the client should see."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(status_code=status_code, detail=message)


def error_response(
    status_code: int, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"error": message, "status": status_code}, status_code=status_code, headers=headers
    )


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
        return error_response(error.status_code, message)

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
    async def _invalid(_request: Request, error: RequestValidationError) -> JSONResponse:
        status = 400 if any(p.get("type") == "json_invalid" for p in error.errors()) else 422
        return error_response(status, _describe_validation(error))

    @api.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=error)
        return error_response(500, "Something went wrong on our side. Please try again.")
