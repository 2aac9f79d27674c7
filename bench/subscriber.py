"""A benchmark client in its own process: follows one job and records when each version
arrives (time.perf_counter, the same monotonic clock as the server's commit times).

Run: python -m bench.subscriber URL JOB_ID MODE LAST_VERSION  (MODE: sse, poll, naive)
Prints "ready" once following, then one JSON object {version: arrival} when LAST_VERSION
(or later) has arrived.
"""

from __future__ import annotations

import json
import sys
import time

import httpx

POLL_SECONDS = 2.0


def follow_stream(client: httpx.Client, path: str, job_id: str, last: int) -> dict[int, float]:
    arrivals: dict[int, float] = {}
    with client.stream("GET", path, params={"jobId": job_id}, timeout=None) as response:
        for line in response.iter_lines():
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


def follow_polling(client: httpx.Client, job_id: str, last: int) -> dict[int, float]:
    arrivals: dict[int, float] = {}
    while True:
        version = client.get(f"/api/import-export/jobs/{job_id}").json()["version"]
        arrivals.setdefault(version, time.perf_counter())
        if len(arrivals) == 1:
            print("ready", flush=True)
        if version >= last:
            return arrivals
        time.sleep(POLL_SECONDS)


def main() -> None:
    url, job_id, mode, last = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    with httpx.Client(base_url=url, timeout=30) as client:
        if mode == "poll":
            arrivals = follow_polling(client, job_id, last)
        else:
            path = "/api/import-export/jobs/ws" if mode == "sse" else "/bench/naive"
            arrivals = follow_stream(client, path, job_id, last)
    print(json.dumps(arrivals), flush=True)


if __name__ == "__main__":
    main()
