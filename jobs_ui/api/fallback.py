"""JSON answers for paths and methods the API does not have.

Reflex's own app is mounted behind the API and would otherwise answer them with its HTML
page (404) or a plain-text 405 that allows GET and HEAD (its static files).
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from jobs_ui.api.allowed import allow_header, method_table, route_path
from jobs_ui.api.errors import ApiError
from jobs_ui.urls import API_PREFIX


class NoSuchRoute:
    """An ASGI app, not a function: Starlette gives a function endpoint GET alone, and an
    app every method."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        no_such_route(Request(scope, receive))


def no_such_route(request: Request) -> None:
    # The API's own table, not FastAPI's route objects: matching those again from inside a
    # route reads the scope this route's match left behind.
    path = route_path(request.scope)
    allowed = method_table(request).allowed(path)
    if allowed:  # the path exists, with other methods
        raise ApiError(
            405, f"{request.method} is not allowed on this path.", headers=allow_header(allowed)
        )
    raise ApiError(404, f"There is no API route at {path}.")


def add_fallback(api: FastAPI) -> None:
    """Last of the API's routes. A Starlette route without a method list matches every
    method, FOO and PROPFIND too, so none of them falls through to Reflex's catch-all."""
    api.router.routes.append(
        Route(f"{API_PREFIX}/{{rest:path}}", NoSuchRoute(), include_in_schema=False)
    )
