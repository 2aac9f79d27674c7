"""How the jobs API sits beside the Reflex app: requests under the API's prefix go straight
to the API, everything else to Reflex.

Why not Reflex's `api_transformer`: it mounts Reflex's app behind the API, then wraps the
pair in Reflex's own Starlette app, and adds a CORS layer to each. Every API request then
passes three CORS layers, two error and exception layers and two routers, and a stream
holds each layer's frames, closures and header copies for as long as it is open: 5.5 KB
of a stream's 40.5 KB of Python objects, measured with tracemalloc (README, figure 2).
Here an API request passes the API's own layers only; the API answers CORS for itself with
the same trusted origins as Reflex (jobs_ui.access.origins), and both sit behind the same
request guard (jobs_ui/jobs_ui.py).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send


class ApiBesideReflex:
    def __init__(self, *, prefix: str, api: ASGIApp, reflex: ASGIApp) -> None:
        self._prefix = prefix.rstrip("/")
        self._api = api
        self._reflex = reflex

    def _for_api(self, scope: Scope) -> bool:
        if scope["type"] not in ("http", "websocket"):
            return False  # lifespan: Reflex runs the API's start-up and shutdown with its own
        path: str = scope["path"]
        return path == self._prefix or path.startswith(self._prefix + "/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        app = self._api if self._for_api(scope) else self._reflex
        await app(scope, receive, send)
