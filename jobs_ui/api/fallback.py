"""JSON answers for paths and methods the API does not have.

Reflex's own app is mounted behind the API and would otherwise answer them with its HTML
page (404) or a plain-text 405.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from jobs_ui.api.allowed import allow_header, method_table, route_path
from jobs_ui.api.errors import ApiError
from jobs_ui.urls import API_PREFIX

router = APIRouter()

ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE"]


@router.api_route(f"{API_PREFIX}/{{rest:path}}", methods=ALL_METHODS, include_in_schema=False)
def no_such_route(request: Request, rest: str) -> None:
    # The API's own table, not FastAPI's route objects: matching those again from inside a
    # route reads the scope this route's match left behind.
    allowed = method_table(request).allowed(route_path(request.scope))
    if allowed:  # the path exists, with other methods
        raise ApiError(
            405, f"{request.method} is not allowed on this path.", headers=allow_header(allowed)
        )
    raise ApiError(404, f"There is no API route at {API_PREFIX}/{rest}.")
