"""A benchmark client in its own process: follows one job and records when each version
arrives (time.perf_counter, the same monotonic clock as the server's commit times).

Run: python -m bench.subscriber URL JOB_ID MODE LAST_VERSION  (MODE: sse, poll, naive)
Prints "ready" once following, then one JSON object {version: arrival} when LAST_VERSION
(or later) has arrived.

On the product's routes (sse, poll) it carries what its environment gives it, as a real
client would: BENCH_API_KEY as `Authorization: Bearer`, or BENCH_JOB_TOKEN as `?token=`.
The naive baseline (a bench-only route) gets neither.
"""

from __future__ import annotations

import json
import os
import sys
import time

import httpx

from bench.processes import API_KEY_ENV, TOKEN_ENV, api_key_headers

POLL_SECONDS = 2.0


def credentials() -> tuple[dict[str, str], dict[str, str]]:
    """The headers and query parameters that say who is asking."""
    token = os.environ.get(TOKEN_ENV)
    return api_key_headers(os.environ.get(API_KEY_ENV)), ({"token": token} if token else {})


def follow_stream(
    client: httpx.Client, path: str, params: dict[str, str], last: int
) -> dict[int, float]:
    arrivals: dict[int, float] = {}
    with client.stream("GET", path, params=params, timeout=None) as response:
        if response.headers.get("content-type", "").split(";")[0] != "text/event-stream":
            raise SystemExit(f"the stream answered {response.status_code}: {response.read()!r}")
        for line in response.iter_lines():
            if line.startswith('data: {"type":"error"'):
                raise SystemExit(f"the stream refused: {line}")  # e.g. "Job not found"
            if not line.startswith("id: "):
                continue
            version = int(line[4:])
            if version == 0:
                continue
            arrivals.setdefault(version, time.perf_counter())
            if len(arrivals) == 1:
                print("ready", flush=True)
            if version >= last:
                return arrivals
    return arrivals


def follow_polling(
    client: httpx.Client, job_id: str, params: dict[str, str], last: int
) -> dict[int, float]:
    arrivals: dict[int, float] = {}
    while True:
        response = client.get(f"/api/import-export/jobs/{job_id}", params=params)
        response.raise_for_status()
        version = response.json()["version"]
        arrivals.setdefault(version, time.perf_counter())
        if len(arrivals) == 1:
            print("ready", flush=True)
        if version >= last:
            return arrivals
        time.sleep(POLL_SECONDS)


def main() -> None:
    url, job_id, mode, last = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    headers, token = credentials()
    if mode == "naive":  # the baseline as it was: no credentials
        headers, token = {}, {}
    with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
        if mode == "poll":
            arrivals = follow_polling(client, job_id, token, last)
        else:
            path = "/api/import-export/jobs/ws" if mode == "sse" else "/bench/naive"
            arrivals = follow_stream(client, path, {"jobId": job_id, **token}, last)
    print(json.dumps(arrivals), flush=True)


if __name__ == "__main__":
    main()
