"""Figure 3: the server's CPU time per minute to keep 1,000 watchers of one running job
informed, over SSE against polling every 2 s (the original fallback).

The job changes four times a second throughout. CPU is the server process's own user+system
time over the window, scaled to a minute; the watchers run in another process.

Watchers are followers of someone's job (pages, links), so each stream and each poll carries
the job's access token (`?token=`): a stream checks it once as it opens, a poll on every
request, as in production. The open-stream limit counts the job owner's streams, so both
servers run with JOBS_UI_MAX_OPEN_STREAMS raised to the number of watchers.
"""

from __future__ import annotations

import subprocess
import tempfile
import threading
import time
from pathlib import Path

import httpx

from bench.processes import TOKEN_ENV, Server, bench_server, new_running_job, python_process
from bench.stats import Figure

CREDENTIAL = "each watcher carries the job's access token (?token=)"

UPDATES_PER_SECOND = 4


def cpu_per_minute(server: Server, mode: str, watchers: int, seconds: float) -> float:
    with httpx.Client(base_url=server.url, timeout=600) as client:
        job_id, token = new_running_job(client)
        args = ("-m", "bench.watchers_client", "127.0.0.1", str(server.port), job_id, mode)
        with python_process(
            *args, str(watchers), str(seconds), stdin=subprocess.PIPE, env={TOKEN_ENV: token}
        ) as watching:
            assert watching.stdout is not None and watching.stdin is not None
            if watching.stdout.readline().strip() != "ready":
                raise RuntimeError(f"the {mode} watchers did not connect")
            count = int(seconds * UPDATES_PER_SECOND)
            driver = threading.Thread(
                target=client.post,
                args=(f"/bench/jobs/{job_id}/drive",),
                kwargs={"params": {"count": count, "gap_ms": 1000 / UPDATES_PER_SECOND}},
            )
            before, began = server.cpu_seconds(), time.monotonic()
            watching.stdin.write("go\n")
            watching.stdin.flush()
            driver.start()
            if not watching.stdout.readline().startswith("done"):
                raise RuntimeError(f"the {mode} watchers did not finish")
            used, elapsed = server.cpu_seconds() - before, time.monotonic() - began
            driver.join()
    return used / elapsed * 60


def run(*, smoke: bool = False) -> list[Figure]:
    watchers, seconds = (50, 3.0) if smoke else (1_000, 30.0)
    # Room for every watcher's stream of the one owner; the same settings for both servers.
    settings = {"JOBS_UI_MAX_OPEN_STREAMS": str(watchers)}
    with tempfile.TemporaryDirectory() as data_dir:
        with bench_server(Path(data_dir) / "sse", settings=settings) as server:
            sse = cpu_per_minute(server, "sse", watchers, seconds)
        with bench_server(Path(data_dir) / "poll", settings=settings) as server:
            polling = cpu_per_minute(server, "poll", watchers, seconds)
    ratio = round(sse / polling, 3) if polling else None
    return [
        Figure(
            name=f"3. Server CPU to keep {watchers:,} watchers informed",
            ours=(
                f"SSE: {sse:.1f} CPU s per minute; job token each, "
                f"JOBS_UI_MAX_OPEN_STREAMS={watchers} for this server"
            ),
            baseline=f"polling every 2 s (job token): {polling:.1f} CPU s per minute",
            ratio=ratio,
            goal="SSE / polling <= 0.25",
            met=ratio is not None and ratio <= 0.25,
            details={
                "sse_cpu_s_per_min": round(sse, 2),
                "polling_cpu_s_per_min": round(polling, 2),
                "credential": CREDENTIAL,
                "settings": settings,
            },
        )
    ]
