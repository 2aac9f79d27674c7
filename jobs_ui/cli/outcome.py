"""How a finished job reads in a terminal, and the exit code it gives.

Exit codes (the README lists them): 0 completed, 1 the job failed, 2 a usage error (Click's
own), 3 cancelled, 4 the server cannot be reached or refused the request, 5 completed with
skipped rows when `--strict` is given; 130 when following is stopped with Ctrl-C.
"""

from __future__ import annotations

import re
from enum import IntEnum
from typing import Any

from jobs_ui.client import JobUpdate


class ExitCode(IntEnum):
    COMPLETED = 0
    FAILED = 1
    USAGE = 2
    CANCELLED = 3
    UNREACHABLE = 4
    SKIPPED_ROWS = 5
    INTERRUPTED = 130


def exit_code(job: JobUpdate, *, strict: bool = False) -> ExitCode:
    if job.status == "FAILED":
        return ExitCode.FAILED
    if job.status == "CANCELLED":
        return ExitCode.CANCELLED
    if strict and int((job.result or {}).get("skippedCount") or 0) > 0:
        return ExitCode.SKIPPED_ROWS
    return ExitCode.COMPLETED


# Control characters (C0, DEL, C1): from a file's cells they would reach the terminal as
# commands (clear the screen, set its title); shown escaped instead.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def printable(text: object) -> str:
    """`text` safe to print on a terminal: each control character as its escape."""
    return _CONTROL.sub(lambda found: repr(found.group())[1:-1], str(text))


EXAMPLES_PER_REASON = 3
CHANGES_SHOWN = 5  # of a dry run's sample of changes


def summary_lines(job: JobUpdate, base_url: str, *, download_hint: bool = False) -> list[str]:
    """The job's end in a few lines, safe to print: its outcome, its counts, why rows were
    skipped (each reason with how many and a few example values), where the full report
    is; with `download_hint`, how to fetch an export's file."""
    return [printable(line) for line in _summary(job, base_url, download_hint)]


def _summary(job: JobUpdate, base_url: str, download_hint: bool) -> list[str]:
    result: dict[str, Any] = job.result or {}
    short = job.job_id[:8]
    if job.status == "FAILED":
        return [f"Job {short} failed: {job.error or 'no reason given'}"]
    if job.status == "CANCELLED":
        return [f"Job {short} was cancelled."]
    lines = [f"Job {short} completed: {job.message}" if job.message else f"Job {short} completed."]
    for group in result.get("errorSummary") or []:
        examples = ", ".join(
            f'"{value}"' for value in (group.get("examples") or [])[:EXAMPLES_PER_REASON]
        )
        where = f" (e.g. {examples})" if examples else ""
        count = int(group.get("count") or 0)
        rows = "row" if count == 1 else "rows"
        lines.append(f"  {count:>8,} {rows}: {group.get('message')}{where}")
    report = result.get("errorReportUrl")
    if report:
        lines.append(f"Every skipped row, with its reason: {base_url.rstrip('/')}{report}")
    if result.get("dryRun"):
        lines.extend(_dry_run_lines(job, result))
    if result.get("fileUrl"):
        count = int(result.get("rowCount") or 0)
        lines.append(
            f"File: {result.get('fileName')} ({count:,} {'row' if count == 1 else 'rows'})"
        )
        if download_hint:
            lines.append(f"Download it with: jobs-ui download {job.job_id}")
    return lines


def _dry_run_lines(job: JobUpdate, result: dict[str, Any]) -> list[str]:
    """What a dry run would change (a few of its sample), and how to go on."""
    changes = result.get("changes") or []
    lines = [
        f"  {change.get('key')} {change.get('field')}: "
        f"{_shown(change.get('from'), 'not shown')} -> {_shown(change.get('to'), 'empty')}"
        for change in changes[:CHANGES_SHOWN]
    ]
    if len(changes) > CHANGES_SHOWN:
        lines.append(f"  … and more ({len(changes):,} in the job's result)")
    lines.append(f"Nothing was written. Import it with: jobs-ui commit {job.job_id}")
    return lines


def _shown(value: Any, none: str) -> str:
    """A value as a change shows it; `from` is null for a caller who may not read the table."""
    return f"({none})" if value is None else repr(value) if isinstance(value, str) else str(value)
