"""Which methods a path of the API allows: for the 405s (with their `Allow` header) of
methods a path does not have.

A literal path outranks a pattern: `/jobs/import` is the import route's path (POST), not
a job id for `GET /jobs/{job_id}`; so only when no literal route has the path do the
patterns' methods count.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.routing import BaseRoute, Route
from starlette.types import Scope


@dataclass(frozen=True, slots=True)
class MethodTable:
    routes: tuple[Route, ...]

    @classmethod
    def of(cls, routes: Iterable[BaseRoute]) -> MethodTable:
        return cls(tuple(route for route in routes if isinstance(route, Route) and route.methods))

    def literal(self, path: str) -> set[str]:
        """The methods of the routes whose path is exactly this one (no parameters)."""
        return {
            method
            for route in self.routes
            if not route.param_convertors and route.path_regex.match(path)
            for method in route.methods or ()
        }

    def allowed(self, path: str) -> set[str]:
        return self.literal(path) or {
            method
            for route in self.routes
            if route.path_regex.match(path)
            for method in route.methods or ()
        }


def route_path(scope: Scope) -> str:
    """The path as routing sees it (below the app's mount point, if any)."""
    path: str = scope["path"]
    root = scope.get("root_path", "")
    if root and path.startswith(root) and path[len(root) : len(root) + 1] in ("", "/"):
        return path[len(root) :]
    return path


def method_table(request: Request) -> MethodTable:
    table = request.app.state.method_table
    assert isinstance(table, MethodTable)
    return table


def allow_header(methods: set[str]) -> dict[str, str]:
    return {"Allow": ", ".join(sorted(methods))}
