"""Figure 3: the server's CPU time per minute to keep 1,000 watchers of one running job
informed, over SSE against polling every 2 s (the original fallback).

The job changes four times a second throughout. CPU is the serving process's own user+system
time over the window, scaled to a minute; the watchers run in another process. The server is
the app's backend as `make backend` starts it, on each server Reflex can run it on.

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

from bench.processes import (
    SHIPPED_SERVER,
    TOKEN_ENV,
    Server,
    new_running_job,
    product_server,
    product_servers,
    python_process,
)
from bench.stats import Figure

CREDENTIAL = "each watcher carries the job's access token (?token=)"

UPDATES_PER_SECOND = 4


def cpu_per_minute(server: Server, mode: str, watchers: int, seconds: float) -> float:
    with server.control() as control:
        job_id, token = new_running_job(server)
        args = ("-m", "bench.watchers_client", "127.0.0.1", str(server.port), job_id, mode)
        with python_process(
            *args, str(watchers), str(seconds), stdin=subprocess.PIPE, env={TOKEN_ENV: token}
        ) as watching:
            assert watching.stdout is not None and watching.stdin is not None
            if watching.stdout.readline().strip() != "ready":
                raise RuntimeError(f"the {mode} watchers did not connect")
            count = int(seconds * UPDATES_PER_SECOND)
            driver = threading.Thread(
                target=control.post,
                args=(f"/jobs/{job_id}/drive",),
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
    cost: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as data_dir:
        for name in product_servers(smoke):
            cost[name] = {}
            for mode in ("sse", "poll"):
                directory = Path(data_dir) / f"{name}-{mode}"
                with product_server(directory, server=name, settings=settings) as server:
                    cost[name][mode] = round(cpu_per_minute(server, mode, watchers, seconds), 2)
    sse, polling = cost[SHIPPED_SERVER]["sse"], cost[SHIPPED_SERVER]["poll"]
    ratio = round(sse / polling, 3) if polling else None
    others = "; ".join(
        f"on {name}: SSE {each['sse']:.1f}, polling {each['poll']:.1f}"
        for name, each in cost.items()
        if name != SHIPPED_SERVER
    )
    return [
        Figure(
            name=f"3. Server CPU to keep {watchers:,} watchers informed",
            ours=(
                f"SSE: {sse:.1f} CPU s per minute (the app on {SHIPPED_SERVER}); job token "
                f"each, JOBS_UI_MAX_OPEN_STREAMS={watchers} for this server"
                + (f" ({others})" if others else "")
            ),
            baseline=f"polling every 2 s (job token): {polling:.1f} CPU s per minute",
            ratio=ratio,
            goal="SSE / polling <= 0.2",
            met=ratio is not None and ratio <= 0.2,
            details={
                "cpu_s_per_min": cost,
                "shipped_server": SHIPPED_SERVER,
                "credential": CREDENTIAL,
                "settings": settings,
            },
        )
    ]
