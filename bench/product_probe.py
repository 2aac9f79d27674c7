"""The benchmarks' hand inside the product's backend process, loaded as an extension
(`JOBS_UI_EXTENSIONS=bench.product_probe`): nothing in the app changes, and the streams
and API the figures measure are the app's own, on the server Reflex starts.

The probe makes running jobs and commits updates to them (bench/driving.py) for the
benchmark, which needs commits timed inside the process that streams them. It listens on
its own loopback port (`BENCH_PROBE_PORT`), on a thread of the process that serves the
app: the servers Reflex runs import the app in a supervisor and fork the worker that
serves (Granian, and gunicorn with --preload, as Reflex runs them), so the probe starts
in the forked child; a thread started before the fork would not survive it.

GET /pid answers the serving process's id (its memory and CPU are the figures'); GET
/stats its memory, open files, threads, asyncio tasks, watched job feeds and open streams;
POST /jobs and POST /jobs/{id}/drive?count=&gap_ms= answer as bench/server.py's /bench
routes, and POST /jobs/{id}/finish completes such a job.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

PORT_ENV = "BENCH_PROBE_PORT"
_started = threading.Event()


def _services() -> Any:
    """The app's services, as the app module made them in this process."""
    return sys.modules["jobs_ui.jobs_ui"].services


class _Handler(BaseHTTPRequestHandler):
    driver: Any = None

    def log_message(self, *_args: object) -> None:
        return None

    def _answer(self, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == "/pid":
            self._answer({"pid": os.getpid(), "serving": "jobs_ui.jobs_ui" in sys.modules})
        elif path == "/stats":
            self._answer(_stats())
        else:
            self.send_error(404)

    def do_POST(self) -> None:
        from bench.driving import JobDriver

        if _Handler.driver is None:
            _Handler.driver = JobDriver(_services())
        url = urlsplit(self.path)
        parts = url.path.strip("/").split("/")
        query = {key: values[0] for key, values in parse_qs(url.query).items()}
        if parts == ["jobs"]:
            self._answer(_Handler.driver.new_running_job())
        elif len(parts) == 3 and parts[0] == "jobs" and parts[2] == "drive":
            count, gap = int(query["count"]), float(query.get("gap_ms", 5.0))
            self._answer(_Handler.driver.drive(parts[1], count, gap))
        elif len(parts) == 3 and parts[0] == "jobs" and parts[2] == "finish":
            self._answer(_Handler.driver.finish(parts[1]))
        else:
            self.send_error(404)


def _stats() -> dict[str, Any]:
    """What a long run watches for growth, in the serving process."""
    hub = _services().hub
    tasks = None
    loop = getattr(hub, "_loop", None)  # the loop its streams run on, once one has opened
    if loop is not None and loop.is_running():

        async def count() -> int:
            return len(asyncio.all_tasks())

        tasks = asyncio.run_coroutine_threadsafe(count(), loop).result(timeout=10)
    with open("/proc/self/status") as status:
        fields = dict(line.split(":", 1) for line in status if ":" in line)
    return {
        "rss_mb": round(int(fields["VmRSS"].split()[0]) / 1024, 1),
        "open_files": len(os.listdir("/proc/self/fd")),
        "threads": int(fields["Threads"]),
        "asyncio_tasks": tasks,
        "watched_feeds": hub.watched_jobs,
        "open_streams": getattr(_services().stream_slots, "open_streams", None),
    }


def _start() -> None:
    if _started.is_set() or not os.environ.get(PORT_ENV):
        return
    try:
        server = ThreadingHTTPServer(("127.0.0.1", int(os.environ[PORT_ENV])), _Handler)
    except OSError:  # another worker of the same app took it first: one probe is enough
        return
    _started.set()
    threading.Thread(target=server.serve_forever, name="bench-probe", daemon=True).start()


def _start_in_child() -> None:
    _started.clear()  # the parent's flag, copied; its thread was not
    _start()


os.register_at_fork(after_in_child=_start_in_child)
