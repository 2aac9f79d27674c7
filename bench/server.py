"""A benchmark server: the real jobs API plus two things only benchmarks need.

- `POST /bench/jobs` makes a job of the owner "bench" PROCESSING that no runner touches
  (counted against the owner's active-job limit, as a created job is) and answers with its
  id and an access token, as the real create routes do; `POST /bench/jobs/{id}/drive` commits
  progress updates to it from a thread of this process (as a runner would), returning each
  update's version and commit time (taken as the store notifies: bench/commit_clock.py);
- `GET /bench/naive?jobId=` is the naive baseline: an SSE loop that re-reads the row every second.

Everything under /api is the product as deployed, access control included: readers carry
the owner's API key or the job's token (bench/processes.py). Settings come from the
environment as for the app (a figure raises a per-owner limit there, and says so).

Run: python -m bench.server --port N --data-dir DIR
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import uvicorn
from fastapi import FastAPI, Request
from sse_starlette import EventSourceResponse
from starlette.responses import StreamingResponse

from bench.driving import JobDriver
from jobs_ui.api.app import create_api
from jobs_ui.live.messages import status_update_message
from jobs_ui.live.sse import format_event
from jobs_ui.services import Services
from jobs_ui.settings import Settings


def bench_app(services: Services) -> FastAPI:
    api = create_api(services)
    store = services.store
    driver = JobDriver(services)

    @api.post("/bench/jobs")
    def new_running_job() -> dict[str, str]:
        return driver.new_running_job()

    @api.post("/bench/jobs/{job_id}/drive")
    def drive(job_id: str, count: int, gap_ms: float = 5.0) -> dict[str, list[list[float]]]:
        """Commit `count` updates `gap_ms` apart; [version, commit time] for each."""
        return driver.drive(job_id, count, gap_ms)

    @api.get("/bench/naive")
    async def naive(request: Request) -> StreamingResponse:
        job_id = uuid.UUID(request.query_params["jobId"])

        async def loop():
            sent = 0
            while True:
                job = await asyncio.to_thread(store.get, job_id)
                if job.version > sent:
                    sent = job.version
                    yield format_event(status_update_message(job), event_id=job.version)
                await asyncio.sleep(1.0)

        return StreamingResponse(loop(), media_type="text/event-stream")

    add_baseline_streams(api)
    return api


class Broadcast:
    """The baselines' change signal: one asyncio.Event, replaced on every notify."""

    def __init__(self) -> None:
        self.count = 0
        self.changed = asyncio.Event()

    def notify(self) -> None:
        self.count += 1
        self.changed.set()
        self.changed = asyncio.Event()


def add_baseline_streams(api: FastAPI) -> None:
    """Two fan-out baselines on the same server: a minimal hand-written Starlette stream and
    sse-starlette's EventSourceResponse, both woken by one shared event."""
    broadcast = Broadcast()

    async def changes() -> AsyncIterator[int]:
        yield broadcast.count
        while True:
            await broadcast.changed.wait()
            yield broadcast.count

    @api.post("/bench/baseline/notify")
    async def notify() -> dict[str, float]:
        broadcast.notify()
        return {"at": time.perf_counter()}

    @api.get("/bench/baseline/minimal")
    async def minimal() -> StreamingResponse:
        async def events() -> AsyncIterator[bytes]:
            async for count in changes():
                yield f'id: {count}\ndata: {{"count": {count}}}\n\n'.encode()

        return StreamingResponse(events(), media_type="text/event-stream")

    @api.get("/bench/baseline/sse-starlette")
    async def with_sse_starlette() -> EventSourceResponse:
        async def events() -> AsyncIterator[dict[str, str]]:
            async for count in changes():
                yield {"id": str(count), "data": f'{{"count": {count}}}'}

        return EventSourceResponse(events(), ping=15)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir", required=True)
    args = parser.parse_args()
    services = Services.from_settings(Settings(JOBS_UI_DATA_DIR=args.data_dir))
    services.start()
    uvicorn.run(
        bench_app(services),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        backlog=16384,  # fan-out runs open thousands of connections at once
        timeout_keep_alive=60,
    )


if __name__ == "__main__":
    main()
