"""A long run of the app as people use it, watching the serving process for growth.

For `--minutes` (30 by default: `make soak`) the app's backend, started as `make backend`
starts it (in-process runner, SQLite), gets: imports of contacts (each of its own new rows,
so every count is known), exports whose downloads are checked line by line, imports cancelled
midway and then retried, and `--streams` open SSE streams (2,000 by default) that come and go:
each follows a job for a while, then closes, or vanishes (the socket is dropped without a
word), or stops reading first and then vanishes. Most follow one of a few long jobs that
update every 2 s for a few minutes each, so most streams are open, and woken, at any time.

At the start, every minute and at the end it reads the serving process's resident memory,
open files, threads, asyncio tasks, watched job feeds and open streams
(bench/product_probe.py). Then the
backend is killed (SIGKILL) in the middle of one more import and started again: that import
must complete by itself on its second run.

It fails (exit 1) on any 5xx, a job left unfinished, an import whose row count is wrong, a
table that does not hold exactly the rows the imports created, or, on a run of 10 minutes or
more, a measure that grew by more than 5% from the first minutes after warm-up to the end.

Run: python -m bench.soak [--minutes 30] [--streams 2000] [--output FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import random
import signal
import sqlite3
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.processes import Server, drive, finish, new_running_job, product_server

RESULTS = Path(__file__).resolve().parent / "results"
JOBS = "/api/import-export/jobs"
MEASURES = ("rss_mb", "open_files", "threads", "asyncio_tasks", "watched_feeds")
GROWTH_LIMIT = 0.05
JUDGED_FROM_MINUTES = 10  # shorter runs report the trend but cannot judge it
FINAL = {"COMPLETED", "FAILED", "CANCELLED"}
WATCHED_AT_ONCE = 3
UPDATE_EVERY = 2.0  # seconds between a watched job's updates


@dataclass
class Tally:
    """What the run did and what went wrong."""

    imports: int = 0
    exports: int = 0
    cancels: int = 0
    retries: int = 0
    rows_created: int = 0
    streams_opened: int = 0
    streams_vanished: int = 0
    server_errors: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)
    job_ids: list[str] = field(default_factory=list)
    watched: list[str] = field(default_factory=list)  # long jobs live now (watched_jobs)
    watched_jobs: int = 0
    watched_updates: int = 0

    def check(self, response: httpx.Response, what: str) -> httpx.Response:
        if response.status_code >= 500:
            self.server_errors.append(f"{what}: {response.status_code} {response.text[:200]}")
        return response


class Rows:
    """Contact rows no other import has: each import's emails are its own."""

    def __init__(self, first_batch: int = 0) -> None:
        self._next = itertools.count(first_batch)

    def csv(self, count: int) -> bytes:
        start = next(self._next) * 10_000_000
        lines = ["name,email,company,phone"]
        lines += [
            f"Soak {n},soak{n}@example.com,Company {n % 40}," for n in range(start, start + count)
        ]
        return ("\n".join(lines) + "\n").encode()


async def until_final(client: httpx.AsyncClient, tally: Tally, job_id: str) -> dict[str, Any]:
    while True:
        response = tally.check(await client.get(f"{JOBS}/{job_id}"), "poll")
        if response.status_code == 200 and response.json()["status"] in FINAL:
            return dict(response.json())
        await asyncio.sleep(0.25)


async def start_import(client: httpx.AsyncClient, tally: Tally, body: bytes) -> str | None:
    files = {"file": ("soak.csv", body, "text/csv")}
    response = tally.check(
        await client.post(f"{JOBS}/import", data={"dataset": "contacts"}, files=files), "import"
    )
    if response.status_code == 429:  # at the owner's active-job limit: try again later
        await asyncio.sleep(1)
        return None
    if response.status_code != 201:
        tally.wrong.append(f"import answered {response.status_code}: {response.text[:200]}")
        return None
    job_id = str(response.json()["jobId"])
    tally.job_ids.append(job_id)
    return job_id


def expect_created(tally: Tally, job: dict[str, Any], rows: int) -> None:
    created = (job.get("result") or {}).get("createdCount")
    if job["status"] != "COMPLETED" or created != rows:
        tally.wrong.append(f"import {job['jobId']}: {job['status']}, created {created} of {rows}")
    else:
        tally.rows_created += rows


async def one_import(client: httpx.AsyncClient, tally: Tally, rows: Rows) -> None:
    count = random.randint(5_000, 40_000)
    job_id = await start_import(client, tally, rows.csv(count))
    if job_id is not None:
        expect_created(tally, await until_final(client, tally, job_id), count)
        tally.imports += 1


async def one_export(client: httpx.AsyncClient, tally: Tally) -> None:
    # One company's rows, a fortieth of the table, so exports do not grow through the run
    # (10 to 39: no company's name holds another's).
    company = f"Company {random.randint(10, 39)}"
    response = tally.check(
        await client.post(f"{JOBS}/export", json={"dataset": "contacts", "filter": company}),
        "export",
    )
    if response.status_code != 201:
        if response.status_code != 429:
            tally.wrong.append(f"export answered {response.status_code}")
        return
    job = await until_final(client, tally, str(response.json()["jobId"]))
    tally.job_ids.append(job["jobId"])
    if job["status"] != "COMPLETED":
        tally.wrong.append(f"export {job['jobId']} ended {job['status']}: {job['error']}")
        return
    download = tally.check(await client.get(job["result"]["fileUrl"]), "download")
    lines = download.content.count(b"\n")
    if download.status_code != 200 or lines != job["result"]["rowCount"] + 1:
        tally.wrong.append(f"export {job['jobId']}: {lines} lines for {job['result']['rowCount']}")
    tally.exports += 1


async def cancel_then_retry(client: httpx.AsyncClient, tally: Tally, rows: Rows) -> None:
    count = 150_000
    job_id = await start_import(client, tally, rows.csv(count))
    if job_id is None:
        return
    await asyncio.sleep(random.uniform(0.2, 1.5))
    tally.check(await client.post(f"{JOBS}/{job_id}/cancel"), "cancel")
    ended = await until_final(client, tally, job_id)
    tally.cancels += 1
    if ended["status"] == "COMPLETED":  # it won the race: its rows are in
        expect_created(tally, ended, count)
        return
    if ended["status"] != "CANCELLED":
        tally.wrong.append(f"cancelled import {job_id} ended {ended['status']}")
        return
    retry = tally.check(await client.post(f"{JOBS}/{job_id}/retry"), "retry")
    if retry.status_code != 201:
        tally.wrong.append(f"retry of {job_id} answered {retry.status_code}")
        return
    again = str(retry.json()["jobId"])
    tally.job_ids.append(again)
    expect_created(tally, await until_final(client, tally, again), count)
    tally.retries += 1


async def jobs_loop(server: Server, tally: Tally, rows: Rows, until: float) -> None:
    async with httpx.AsyncClient(
        base_url=server.url, headers=server.headers, timeout=120
    ) as client:
        while time.monotonic() < until:
            roll = random.random()
            if roll < 0.55:
                await one_import(client, tally, rows)
            elif roll < 0.85:
                await one_export(client, tally)
            else:
                await cancel_then_retry(client, tally, rows)


async def watched_jobs(server: Server, tally: Tally, until: float) -> None:
    """Long jobs most streams follow, so that streams stay open and are woken while they
    are: WATCHED_AT_ONCE of them at a time, each running 1 to 3 minutes with an update
    every UPDATE_EVERY seconds (committed in the server's process, as a runner would),
    then completed and replaced by a new one. All are completed by the end."""
    ends: dict[str, float] = {}
    try:
        while time.monotonic() < until:
            try:
                await tend_watched(server, tally, ends)
            except (httpx.HTTPError, ValueError) as error:  # counted, and the run goes on
                tally.wrong.append(f"a watched job: {error!r}")
            await asyncio.sleep(UPDATE_EVERY)
    finally:
        tally.watched.clear()
        for job_id in ends:
            await asyncio.to_thread(finish, server, job_id)


async def tend_watched(server: Server, tally: Tally, ends: dict[str, float]) -> None:
    """Complete the watched jobs whose time is up, start new ones, update each."""
    now = time.monotonic()
    for job_id in [job_id for job_id, end in ends.items() if end <= now]:
        await asyncio.to_thread(finish, server, job_id)
        tally.watched.remove(job_id)
        del ends[job_id]
    while len(ends) < WATCHED_AT_ONCE:
        job_id, _token = await asyncio.to_thread(new_running_job, server)
        ends[job_id] = now + random.uniform(60, 180)
        tally.watched.append(job_id)
        tally.watched_jobs += 1
    for job_id in ends:
        await asyncio.to_thread(drive, server, job_id, 1)
        tally.watched_updates += 1


def job_to_follow(tally: Tally) -> tuple[str, float] | None:
    """Mostly a long job still running, held for up to a minute and a half; else a recent
    job of any kind (often ended: its stream says so at once and closes)."""
    if tally.watched and random.random() < 0.8:
        return random.choice(tally.watched), random.uniform(5, 90)
    if tally.job_ids:
        return random.choice(tally.job_ids[-50:]), random.uniform(2, 30)
    return None


async def stream_loop(server: Server, tally: Tally, until: float) -> None:
    """One stream slot: follow a job a while, then leave in one of three ways."""
    headers = f"Authorization: Bearer {server.api_key}\r\n"
    while time.monotonic() < until:
        chosen = job_to_follow(tally)
        if chosen is None:
            await asyncio.sleep(0.5)
            continue
        job_id, held = chosen
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        except OSError as error:
            tally.wrong.append(f"stream could not connect: {error}")
            await asyncio.sleep(1)
            continue
        tally.streams_opened += 1
        writer.write(
            f"GET {JOBS}/ws?jobId={job_id} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}"
            "Accept: text/event-stream\r\n\r\n".encode()
        )
        way = random.random()
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=30)
            status = int(head.split(b" ", 2)[1])
            if status >= 500:
                tally.server_errors.append(f"stream: {status}")
            if way < 0.6:  # reads along, then closes
                with contextlib.suppress(TimeoutError, asyncio.IncompleteReadError):
                    await asyncio.wait_for(reader.read(-1), timeout=held)
            else:  # stops reading (or never starts), then vanishes
                await asyncio.sleep(held)
        except (TimeoutError, OSError, ValueError, IndexError) as error:
            tally.wrong.append(f"stream of {job_id}: {error!r}")
        finally:
            if way < 0.6:
                writer.close()
            else:
                writer.transport.abort()  # no FIN handshake a polite client would send
                tally.streams_vanished += 1


async def sampler(
    server: Server, samples: list[dict[str, Any]], every: float, until: float
) -> None:
    async with httpx.AsyncClient(base_url=server.control_url, timeout=30) as probe:
        began = time.monotonic()
        while True:
            stats = (await probe.get("/stats")).json()
            samples.append({"minute": round((time.monotonic() - began) / 60, 2), **stats})
            print(json.dumps(samples[-1]), flush=True)
            if time.monotonic() >= until:
                return
            await asyncio.sleep(min(every, max(until - time.monotonic(), 0)))


async def soak(server: Server, minutes: float, streams: int) -> tuple[Tally, list[dict[str, Any]]]:
    tally, rows, samples = Tally(), Rows(), []
    until = time.monotonic() + minutes * 60
    every = min(60.0, minutes * 60 / 6)
    work = [asyncio.create_task(jobs_loop(server, tally, rows, until)) for _ in range(3)]
    work.append(asyncio.create_task(watched_jobs(server, tally, until)))
    work += [asyncio.create_task(stream_loop(server, tally, until)) for _ in range(streams)]
    await sampler(server, samples, every, until)
    await asyncio.gather(*work)
    await asyncio.sleep(3)  # the server notices the last streams went
    async with httpx.AsyncClient(base_url=server.control_url, timeout=30) as probe:
        samples.append(
            {
                "minute": round(minutes + 0.05, 2),
                "after": True,
                **(await probe.get("/stats")).json(),
            }
        )
    return tally, samples


def killed_midway(server: Server, rows: Rows) -> dict[str, Any]:
    """One more import, the backend killed while it runs: the job's id and row count."""
    count = 300_000
    with httpx.Client(base_url=server.url, headers=server.headers, timeout=60) as client:
        files = {"file": ("last.csv", rows.csv(count), "text/csv")}
        created = client.post(f"{JOBS}/import", data={"dataset": "contacts"}, files=files)
        created.raise_for_status()
        job_id = str(created.json()["jobId"])
        deadline = time.monotonic() + 60
        while client.get(f"{JOBS}/{job_id}").json()["progress"] < 5:
            if time.monotonic() > deadline:
                raise RuntimeError("the last import did not get going")
            time.sleep(0.05)
    assert server.process is not None
    os.killpg(server.process.pid, signal.SIGKILL)
    server.process.wait()
    return {"jobId": job_id, "rows": count}


def growth(samples: list[dict[str, Any]], warm_minutes: float) -> dict[str, float | None]:
    """Per measure: the mean of the last third of the samples against the mean of those
    taken in the minutes right after warm-up, as a fraction (0.03 = grew 3%)."""
    during = [sample for sample in samples if not sample.get("after")]
    warm = [sample for sample in during if sample["minute"] >= warm_minutes]
    if len(warm) < 3:
        return dict.fromkeys(MEASURES)
    early, late = warm[: max(1, len(warm) // 3)], warm[-max(1, len(warm) // 3) :]
    result: dict[str, float | None] = {}
    for measure in MEASURES:
        before = [s[measure] for s in early if s[measure] is not None]
        after = [s[measure] for s in late if s[measure] is not None]
        if not before or not after or not statistics.mean(before):
            result[measure] = None
            continue
        result[measure] = round(statistics.mean(after) / statistics.mean(before) - 1, 4)
    return result


def after_restart(
    data_dir: Path, settings: dict[str, str], last: dict[str, Any], tally: Tally
) -> tuple[dict[str, Any], int]:
    """Start the backend again: the import it was killed in must run again and complete.
    That import as it ended, and how many jobs are left unfinished then."""
    with (
        product_server(data_dir, settings=settings, api_key=True) as server,
        httpx.Client(base_url=server.url, headers=server.headers, timeout=60) as client,
    ):
        deadline = time.monotonic() + 300
        while (job := client.get(f"{JOBS}/{last['jobId']}").json())["status"] not in FINAL:
            if time.monotonic() > deadline:
                break
            time.sleep(0.25)
        if job["attempt"] != 2:
            tally.wrong.append(f"the import cut short ran {job['attempt']} times")
        expect_created(tally, job, last["rows"])
        unfinished = sum(
            len(client.get(JOBS, params={"status": status, "limit": 200}).json()["jobs"])
            for status in ("PENDING", "PROCESSING")
        )
    return dict(job), unfinished


def table_rows(data_dir: Path) -> int:
    with sqlite3.connect(data_dir / "jobs_ui.db") as connection:
        return int(connection.execute("SELECT count(*) FROM contacts").fetchone()[0])


def main() -> None:
    # Stopped early (SIGTERM), it still stops the backend it started, as on Ctrl-C.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--streams", type=int, default=2000)
    parser.add_argument("--output", type=Path, default=RESULTS / "soak.json")
    args = parser.parse_args()
    settings = {
        "JOBS_UI_MAX_OPEN_STREAMS": str(args.streams * 2),  # vanished ones take a moment to go
        "JOBS_UI_MAX_ACTIVE_JOBS": "20",
        # Every import's upload and every export's file is kept until retention: room for a
        # whole run's worth of them.
        "JOBS_UI_MAX_STORED_BYTES": str(50 * 1024**3),
    }
    warm = 5.0 if args.minutes >= JUDGED_FROM_MINUTES else args.minutes / 6
    with tempfile.TemporaryDirectory(prefix="soak-") as directory:
        data_dir = Path(directory) / "data"
        with product_server(data_dir, settings=settings, api_key=True) as server:
            tally, samples = asyncio.run(soak(server, args.minutes, args.streams))
            last = killed_midway(server, Rows(first_batch=100_000))  # past the run's
        job, unfinished = after_restart(data_dir, settings, last, tally)
        held = table_rows(data_dir)
    grew = growth(samples, warm)
    judged = args.minutes >= JUDGED_FROM_MINUTES
    flat = all(value is None or value <= GROWTH_LIMIT for value in grew.values())
    if held != tally.rows_created:
        tally.wrong.append(
            f"the table holds {held:,} rows; the imports created {tally.rows_created:,}"
        )
    ok = not tally.server_errors and not tally.wrong and unfinished == 0 and (flat or not judged)
    report = {
        "minutes": args.minutes,
        "streams": args.streams,
        "ok": ok,
        "growth_after_warm_up": grew,
        "growth_judged": judged,
        "warm_up_minutes": warm,
        "unfinished_jobs": unfinished,
        "server_errors": tally.server_errors[:20],
        "wrong": tally.wrong[:20],
        "done": {
            "imports": tally.imports,
            "exports": tally.exports,
            "cancels": tally.cancels,
            "retries": tally.retries,
            "rows_created": tally.rows_created,
            "rows_in_table": held,
            "streams_opened": tally.streams_opened,
            "streams_vanished": tally.streams_vanished,
            "watched_jobs": tally.watched_jobs,
            "watched_updates": tally.watched_updates,
            "restart": {**last, "attempt": job["attempt"], "status": job["status"]},
        },
        "samples": samples,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2))
    print(json.dumps({key: report[key] for key in report if key != "samples"}, indent=2))
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
