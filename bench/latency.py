"""Figure 1: a progress commit to its arrival at a client, SSE against its baselines.

Ours: the SSE stream (in-process notification, one row read per change) of the app's backend
as `make backend` starts it, on each server Reflex can run it on. Baselines, in the same run:
polling GET /jobs/{id} every 2 s (the original fallback) on the same server, and a naive SSE
loop that re-reads the row every second (a route of the stand-in, bench/server.py). A
change's latency is the time from its commit to the first moment the client holds that
version or a later one.

The subscriber is a program following the job it started, so it carries the job owner's API
key (`Authorization: Bearer`) on the stream and, for the polling baseline, on every poll:
each request resolves the key (one primary-key read and a hash) as in production. The naive
baseline is a bench-only route and carries nothing.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import httpx

from bench.processes import (
    API_KEY_ENV,
    SHIPPED_SERVER,
    Server,
    bench_server,
    drive,
    new_running_job,
    product_server,
    product_servers,
    python_process,
)
from bench.stats import Figure, summary_ms

CREDENTIAL = "the owner's API key (Authorization: Bearer)"


def measure(server: Server, mode: str, count: int, gap_ms: float) -> dict[str, float]:
    """Drive `count` updates `gap_ms` apart while one `mode` subscriber follows the job."""
    assert server.api_key is not None
    with httpx.Client(base_url=server.url, headers=server.headers, timeout=600) as client:
        job_id, _token = new_running_job(server)
        job = client.get(f"/api/import-export/jobs/{job_id}")
        job.raise_for_status()
        last = job.json()["version"] + count
        args = ("-m", "bench.subscriber", server.url, job_id, mode, str(last))
        env = {API_KEY_ENV: server.api_key}
        with python_process(*args, env=env) as subscriber:
            assert subscriber.stdout is not None
            if subscriber.stdout.readline().strip() != "ready":
                raise RuntimeError(f"the {mode} subscriber did not start")
            commits = drive(server, job_id, count, gap_ms)
            arrivals = {int(v): t for v, t in json.loads(subscriber.stdout.readline()).items()}
    latencies = []
    for version, committed in commits:
        seen = [t for v, t in arrivals.items() if v >= version]
        latencies.append(min(seen) - committed)
    return summary_ms(latencies)


def run(*, smoke: bool = False) -> list[Figure]:
    updates, samples = (50, 4) if smoke else (1000, 15)
    on: dict[str, dict[str, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as data_dir:
        for name in product_servers(smoke):
            directory = Path(data_dir) / name
            with product_server(directory, server=name, api_key=True) as server:
                on[name] = {"sse": measure(server, "sse", updates, gap_ms=5)}
                # Gaps are not multiples of the period, so changes land all over a cycle.
                on[name]["polling_2s"] = measure(server, "poll", samples, gap_ms=1370)
        # The naive loop is a route of the stand-in alone (it is no part of the app).
        with bench_server(Path(data_dir) / "stand-in", api_key=True) as server:
            naive = measure(server, "naive", samples, gap_ms=730)
    sse, polling = on[SHIPPED_SERVER]["sse"], on[SHIPPED_SERVER]["polling_2s"]
    others = "; ".join(
        f"on {name}: p50 {each['sse']['p50_ms']} ms, p99 {each['sse']['p99_ms']} ms"
        for name, each in on.items()
        if name != SHIPPED_SERVER
    )
    goal_met = sse["p50_ms"] <= 2 and sse["p99_ms"] <= 10
    return [
        Figure(
            name="1. Update latency, 1 subscriber (SSE)",
            ours=(
                f"p50 {sse['p50_ms']} ms, p99 {sse['p99_ms']} ms (the app on {SHIPPED_SERVER}, "
                "API key)" + (f" ({others})" if others else "")
            ),
            baseline=(
                f"polling 2 s (API key): p50 {polling['p50_ms']} ms; "
                f"naive 1 s re-read: p50 {naive['p50_ms']} ms"
            ),
            ratio=round(polling["p50_ms"] / sse["p50_ms"], 1),
            goal="p50 <= 2 ms, p99 <= 10 ms",
            met=goal_met,
            details={
                "servers": on,
                "shipped_server": SHIPPED_SERVER,
                "naive_1s_stand_in": naive,
                "credential": CREDENTIAL,
            },
        )
    ]


if __name__ == "__main__":
    for figure in run():
        print(json.dumps(figure.as_dict(), indent=2))
