"""JSON answers for paths and methods the API does not have.

Reflex's own app is mounted behind the API and would otherwise answer them with its HTML
page (404) or a plain-text 405.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.routing import Match

from jobs_ui.api.errors import ApiError
from jobs_ui.urls import API_PREFIX

router = APIRouter()

ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


@router.api_route(f"{API_PREFIX}/{{rest:path}}", methods=ALL_METHODS, include_in_schema=False)
def no_such_route(request: Request, rest: str) -> None:
    scope = dict(request.scope)
    for route in request.app.router.routes:
        match, _ = route.matches(scope)
        if match is Match.PARTIAL:  # the path exists, with other methods
            raise ApiError(405, f"{request.method} is not allowed on this path.")
    raise ApiError(404, f"There is no API route at {API_PREFIX}/{rest}.")
