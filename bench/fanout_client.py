"""Holds many idle SSE streams from one process and records when the next event reaches each.

Plain asyncio sockets (an HTTP client library per stream would cost more than the server).
Run: python -m bench.fanout_client HOST PORT PATH STREAMS INITIAL_EVENTS
Prints "ready" when every stream has its initial events, then, after the next event reached
all of them (or 60 s passed), one JSON list of arrival times (time.perf_counter).

Each stream carries what the environment gives (bench/processes.py): BENCH_JOB_TOKEN as
`&token=` on the path, BENCH_API_KEY as `Authorization: Bearer`; the baselines get neither.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
import time
from urllib.parse import quote

from bench.processes import API_KEY_ENV, TOKEN_ENV

OPEN_AT_ONCE = 256


def with_credentials(path: str) -> tuple[str, str]:
    """The request path and extra header lines that say who is asking, from the environment."""
    if token := os.environ.get(TOKEN_ENV):
        path += ("&" if "?" in path else "?") + "token=" + quote(token, safe="")
    key = os.environ.get(API_KEY_ENV)
    return path, (f"Authorization: Bearer {key}\r\n" if key else "")


def check_head(head: bytes) -> None:
    """Fail loudly on a refused stream (a 429 at the stream limit, a 4xx) instead of hanging."""
    status = head.split(b"\r\n", 1)[0].split()
    if len(status) < 2 or status[1] != b"200":
        raise RuntimeError(f"a stream was refused: {head.decode(errors='replace')}")


async def read_chunk(reader: asyncio.StreamReader) -> bytes:
    """One chunk of a chunked HTTP body (the server sends one event per chunk)."""
    size = int((await reader.readuntil(b"\r\n")).strip(), 16)
    data = await reader.readexactly(size + 2)
    return data[:-2]


async def next_event(reader: asyncio.StreamReader) -> bytes:
    while True:
        chunk = await read_chunk(reader)
        if b'data: {"type":"error"' in chunk:  # e.g. "Job not found", a token that fails
            raise RuntimeError(f"a stream was refused: {chunk.decode(errors='replace')}")
        if b"data:" in chunk:  # skip keep-alive comments
            return chunk


async def hold_stream(
    host: str, port: int, path: str, initial: int, gate: asyncio.Semaphore, ready: list[int]
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    path, extra = with_credentials(path)
    async with gate:
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}"
            "Accept: text/event-stream\r\n\r\n".encode()
        )
        check_head(await reader.readuntil(b"\r\n\r\n"))
        for _ in range(initial):
            await next_event(reader)
    ready.append(1)
    return reader, writer


async def main() -> None:
    host, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    streams, initial = int(sys.argv[4]), int(sys.argv[5])
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    gate = asyncio.Semaphore(OPEN_AT_ONCE)
    ready: list[int] = []
    held = await asyncio.gather(
        *(hold_stream(host, port, path, initial, gate, ready) for _ in range(streams))
    )
    print("ready", flush=True)

    async def arrival(reader: asyncio.StreamReader) -> float:
        await next_event(reader)
        return time.perf_counter()

    arrivals = await asyncio.wait_for(
        asyncio.gather(*(arrival(reader) for reader, _writer in held)), timeout=60
    )
    print(json.dumps(arrivals), flush=True)
    for _reader, writer in held:
        writer.close()


if __name__ == "__main__":
    asyncio.run(main())
