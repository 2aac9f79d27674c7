"""Keeps N watchers of one job informed for a while: SSE streams, or pollers every 2 s.

Plain asyncio sockets with keep-alive, so the client's own cost stays small. Run:
python -m bench.watchers_client HOST PORT JOB_ID MODE WATCHERS SECONDS  (MODE: sse or poll)
Prints "ready" once every watcher is connected, then "done" with the events/polls received.

Streams and polls alike carry what the environment gives (BENCH_JOB_TOKEN as `token=`,
BENCH_API_KEY as `Authorization: Bearer`; see bench/fanout_client.py).
"""

from __future__ import annotations

import asyncio
import re
import resource
import sys

from bench.fanout_client import check_head, next_event, with_credentials

POLL_SECONDS = 2.0
LENGTH = re.compile(rb"content-length:\s*(\d+)", re.IGNORECASE)


async def connect(host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(host, port)


async def sse_watcher(
    host: str, port: int, job_id: str, ready: asyncio.Event, seconds: float
) -> int:
    reader, writer = await connect(host, port)
    path, extra = with_credentials(f"/api/import-export/jobs/ws?jobId={job_id}")
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n".encode())
    check_head(await reader.readuntil(b"\r\n\r\n"))
    await ready.wait()
    received = 0
    loop = asyncio.get_running_loop()
    until = loop.time() + seconds
    while (left := until - loop.time()) > 0:
        try:
            async with asyncio.timeout(left):
                await next_event(reader)
        except TimeoutError:
            break
        received += 1
    writer.close()
    return received


async def poll_watcher(
    host: str, port: int, job_id: str, ready: asyncio.Event, seconds: float, offset: float
) -> int:
    reader, writer = await connect(host, port)
    path, extra = with_credentials(f"/api/import-export/jobs/{job_id}")
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n".encode()
    await ready.wait()
    loop = asyncio.get_running_loop()
    until = loop.time() + seconds
    await asyncio.sleep(offset)  # spread the polls over the period, as real clients are
    polls = 0
    while loop.time() < until:
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        check_head(head)
        match = LENGTH.search(head)
        await reader.readexactly(int(match.group(1)) if match else 0)
        polls += 1
        await asyncio.sleep(POLL_SECONDS)
    writer.close()
    return polls


async def main() -> None:
    host, port, job_id, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    watchers, seconds = int(sys.argv[5]), float(sys.argv[6])
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    ready = asyncio.Event()
    if mode == "sse":
        tasks = [
            asyncio.create_task(sse_watcher(host, port, job_id, ready, seconds))
            for _ in range(watchers)
        ]
    else:
        tasks = [
            asyncio.create_task(
                poll_watcher(host, port, job_id, ready, seconds, POLL_SECONDS * n / watchers)
            )
            for n in range(watchers)
        ]
    await asyncio.sleep(0.5 + watchers / 2000)  # connections open
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)  # "go"
    ready.set()
    counts = await asyncio.gather(*tasks)
    print(f"done {sum(counts)}", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
