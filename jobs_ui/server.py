"""The server worker `make run` and `make backend` serve the app with: uvicorn under
gunicorn, as Reflex runs it when REFLEX_USE_GRANIAN=false, with one change.

Why not Granian (Reflex's default when gunicorn is missing): as Reflex starts it, Granian
takes at most 1,024 requests at once per worker (its backlog, 1,024, over its workers), and
Reflex passes no setting to raise that. Every open SSE stream and every open page's
websocket is a request that never ends, so the 1,025th watcher of a job waits unanswered.
uvicorn holds as many as the process has file descriptors for (see the README's figures).

Two changes to the worker Reflex names (the same, from `uvicorn-worker`, the maintained
home of uvicorn's gunicorn workers):
- A bounded graceful shutdown. Streams never end by themselves, and uvicorn waits for every
  open request before it shuts the app down, so a stop (a deploy) would wait until gunicorn
  kills the worker, and running jobs would not be queued again at once. With a bound,
  uvicorn closes what is still open after it, then runs the app's shutdown: running jobs go
  back to the queue, and browsers and the client reconnect on their own.
- Idle connections kept for 75 s, not gunicorn's 2 s: a client polling every 2 s (the
  stream's fallback) would otherwise send its request just as the server closes the
  connection, and see it dropped without an answer. 75 s outlasts the usual 60 s of proxies
  in front, so they, not the app, close idle connections.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from typing import Any

from uvicorn_worker import UvicornH11Worker  # type: ignore[import-untyped]  # ships no hints

GRACEFUL_SHUTDOWN_SECONDS = 3
KEEP_ALIVE_SECONDS = 75


class StreamingWorker(UvicornH11Worker):  # type: ignore[misc]  # its base is untyped
    CONFIG_KWARGS: dict[str, Any] = {
        **UvicornH11Worker.CONFIG_KWARGS,
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_SECONDS,
        "timeout_keep_alive": KEEP_ALIVE_SECONDS,
    }


WORKER = f"{__name__}.StreamingWorker"


def choose_server(environ: MutableMapping[str, str] = os.environ) -> None:
    """Have Reflex serve the app on uvicorn with this worker, however it is started (rxconfig
    calls this). A deployment's own REFLEX_USE_GRANIAN, or its own worker class in
    GUNICORN_CMD_ARGS, wins; its other gunicorn settings are kept."""
    environ.setdefault("REFLEX_USE_GRANIAN", "false")
    gunicorn = environ.get("GUNICORN_CMD_ARGS", "")
    if "--worker-class" not in gunicorn and "-k " not in f"{gunicorn} ":
        environ["GUNICORN_CMD_ARGS"] = f"{gunicorn} --worker-class {WORKER}".strip()
