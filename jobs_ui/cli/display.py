"""Showing a job while it runs: a live bar on a terminal, plain lines anywhere else.

On a terminal (stderr is one): one bar per job with the percentage, the pace in rows/s,
the time left and the current step. Anywhere else (a pipe, a CI log): one plain line each
time the step or the status changes, with no control codes, so logs stay readable.
"""

from __future__ import annotations

import re
import sys
from typing import Protocol, TextIO

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn

from jobs_ui.cli.outcome import printable
from jobs_ui.client import JobUpdate, Transport

_NUMBERS = re.compile(r"[\d,.]+")


class JobDisplay(Protocol):
    def show(self, job: JobUpdate) -> None: ...
    def transport(self, transport: Transport) -> None: ...
    def close(self) -> None: ...


def display_for(stream: TextIO | None = None, *, live: bool | None = None) -> JobDisplay:
    """The live bar when `stream` (stderr by default) is a terminal, else plain lines."""
    stream = stream or sys.stderr
    if live is None:
        live = stream.isatty()
    return LiveBar(stream) if live else PlainLines(stream)


def pace_text(job: JobUpdate) -> str:
    parts = []
    if job.rows_per_second:
        parts.append(f"{job.rows_per_second:,.0f} rows/s")
    if job.eta_seconds is not None and job.status == "PROCESSING":
        minutes, seconds = divmod(int(job.eta_seconds), 60)
        parts.append(f"ETA {minutes}:{seconds:02d}")
    return " · ".join(parts)


class LiveBar:
    def __init__(self, stream: TextIO) -> None:
        self._progress = Progress(
            TextColumn("{task.fields[name]}", style="bold", markup=False),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TextColumn("{task.fields[pace]}"),
            # The server's words, never read as rich markup ("[/b]" in a message is text).
            TextColumn("{task.description}", markup=False),
            console=Console(file=stream),
            transient=False,
        )
        self._tasks: dict[str, TaskID] = {}
        self._progress.start()

    def show(self, job: JobUpdate) -> None:
        task = self._tasks.get(job.job_id)
        name, pace = f"{job.kind.lower() or 'job'} {job.job_id[:8]}", pace_text(job)
        description = printable(job.message or job.status)
        if task is None:
            task = self._progress.add_task(description, total=100, name=name, pace=pace)
            self._tasks[job.job_id] = task
        self._progress.update(
            task, completed=job.progress, description=description, name=name, pace=pace
        )

    def transport(self, transport: Transport) -> None:
        if transport is Transport.OFFLINE:
            self._progress.console.print("[yellow]Cannot reach the server; trying again…")

    def close(self) -> None:
        self._progress.stop()


class PlainLines:
    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._said: dict[str, tuple[str, str]] = {}
        self._transport: Transport | None = None

    def show(self, job: JobUpdate) -> None:
        step = (job.status, _NUMBERS.sub("#", job.message))
        if self._said.get(job.job_id) == step:
            return
        self._said[job.job_id] = step
        pace = pace_text(job)
        line = printable(f"job {job.job_id[:8]} {job.status} {job.progress}% {job.message}")
        line = line.rstrip()
        self._stream.write(f"{line}{f' ({pace})' if pace else ''}\n")
        self._stream.flush()

    def transport(self, transport: Transport) -> None:
        if transport is not self._transport and transport is not Transport.LIVE:
            words = {Transport.POLLING: "polling", Transport.OFFLINE: "cannot reach the server"}
            self._stream.write(f"({words.get(transport, transport.value)})\n")
            self._stream.flush()
        self._transport = transport

    def close(self) -> None:
        return None
