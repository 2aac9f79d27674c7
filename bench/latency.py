"""Figure 1: a progress commit to its arrival at a client, SSE against its baselines.

Ours: the SSE stream (in-process notification, one row read per change). Baselines, in the
same run against the same server: polling GET /jobs/{id} every 2 s (the original fallback)
and a naive SSE loop that re-reads the row every second. A change's latency is the time from
its commit to the first moment the client holds that version or a later one.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import httpx

from bench.processes import bench_server, python_process
from bench.stats import Figure, summary_ms


def measure(url: str, mode: str, count: int, gap_ms: float) -> dict[str, float]:
    """Drive `count` updates `gap_ms` apart while one `mode` subscriber follows the job."""
    with httpx.Client(base_url=url, timeout=600) as client:
        job_id = client.post("/bench/jobs").json()["jobId"]
        first_version = client.get(f"/api/import-export/jobs/{job_id}").json()["version"]
        last = first_version + count
        with python_process("-m", "bench.subscriber", url, job_id, mode, str(last)) as subscriber:
            assert subscriber.stdout is not None
            if subscriber.stdout.readline().strip() != "ready":
                raise RuntimeError(f"the {mode} subscriber did not start")
            response = client.post(
                f"/bench/jobs/{job_id}/drive", params={"count": count, "gap_ms": gap_ms}
            )
            commits = response.json()["commits"]
            arrivals = {int(v): t for v, t in json.loads(subscriber.stdout.readline()).items()}
    latencies = []
    for version, committed in commits:
        seen = [t for v, t in arrivals.items() if v >= version]
        latencies.append(min(seen) - committed)
    return summary_ms(latencies)


def run(*, smoke: bool = False) -> list[Figure]:
    updates, samples = (50, 4) if smoke else (1000, 15)
    with tempfile.TemporaryDirectory() as data_dir, bench_server(Path(data_dir)) as server:
        sse = measure(server.url, "sse", updates, gap_ms=5)
        # Baseline gaps are not multiples of their periods, so changes land all over a cycle.
        naive = measure(server.url, "naive", samples, gap_ms=730)
        polling = measure(server.url, "poll", samples, gap_ms=1370)
    goal_met = sse["p50_ms"] <= 2 and sse["p99_ms"] <= 10
    return [
        Figure(
            name="1. Update latency, 1 subscriber (SSE)",
            ours=f"p50 {sse['p50_ms']} ms, p99 {sse['p99_ms']} ms",
            baseline=(
                f"polling 2 s: p50 {polling['p50_ms']} ms; "
                f"naive 1 s re-read: p50 {naive['p50_ms']} ms"
            ),
            ratio=round(polling["p50_ms"] / sse["p50_ms"], 1),
            goal="p50 <= 2 ms, p99 <= 10 ms",
            met=goal_met,
            details={"sse": sse, "polling_2s": polling, "naive_1s": naive},
        )
    ]


if __name__ == "__main__":
    for figure in run():
        print(json.dumps(figure.as_dict(), indent=2))
