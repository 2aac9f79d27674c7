"""What the command draws while a job runs: the bar's parts, and plain lines in a log."""

from __future__ import annotations

import io

from jobs_ui.cli.display import LiveBar, PlainLines, display_for
from jobs_ui.client import JobUpdate, Transport

JOB = "1a2b3c4d-0000-4000-8000-000000000000"


def job(progress: int, message: str, **fields: object) -> JobUpdate:
    values: dict = {"status": "PROCESSING", "kind": "IMPORT", **fields}
    return JobUpdate(job_id=JOB, progress=progress, version=progress, message=message, **values)


def test_the_bar_shows_percentage_pace_eta_and_step():
    out = io.StringIO()
    bar = LiveBar(out)
    bar.show(job(42, "Validating rows: 126,000 read", rows_per_second=61234.5, eta_seconds=75))
    bar.close()
    drawn = out.getvalue()
    assert "import 1a2b3c4d" in drawn and "42%" in drawn
    assert "61,234 rows/s" in drawn and "ETA 1:15" in drawn
    assert "Validating rows: 126,000 read" in drawn


def test_plain_lines_say_each_step_once_without_control_codes():
    out = io.StringIO()
    lines = PlainLines(out)
    lines.show(job(10, "Validating rows: 30,000 read"))
    lines.show(job(20, "Validating rows: 60,000 read"))  # the same step, further on: quiet
    lines.transport(Transport.POLLING)
    lines.show(job(90, "Saving 300,000 valid rows"))
    lines.show(job(100, "Created 300,000 rows", status="COMPLETED"))
    said = out.getvalue().splitlines()
    assert said == [
        "job 1a2b3c4d PROCESSING 10% Validating rows: 30,000 read",
        "(polling)",
        "job 1a2b3c4d PROCESSING 90% Saving 300,000 valid rows",
        "job 1a2b3c4d COMPLETED 100% Created 300,000 rows",
    ]
    assert "\x1b" not in out.getvalue()


def test_a_pipe_gets_plain_lines_and_a_terminal_the_bar():
    assert isinstance(display_for(io.StringIO()), PlainLines)
    live = display_for(io.StringIO(), live=True)
    assert isinstance(live, LiveBar)
    live.close()
