"""How a finished job reads in a terminal, and the exit code it gives.

Exit codes (the README lists them): 0 completed, 1 the job failed, 2 a usage error (Click's
own), 3 cancelled, 4 the server cannot be reached or refused the request, 5 completed with
skipped rows when `--strict` is given; 130 when following is stopped with Ctrl-C.
"""

from __future__ import annotations

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


EXAMPLES_PER_REASON = 3
CHANGES_SHOWN = 5  # of a dry run's sample of changes


def summary_lines(job: JobUpdate, base_url: str) -> list[str]:
    """The job's end in a few lines: its outcome, its counts, why rows were skipped (each
    reason with how many and a few example values) and where the full report is."""
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
        lines.append(f"File: {result.get('fileName')} ({int(result.get('rowCount') or 0):,} rows)")
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
