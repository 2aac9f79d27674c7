"""What a tab tells of its visitor's jobs: each end once, in the order they ended, never
one from before the tab began, and not on the job's own page; and the toast's words."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from reflex_base.utils.format import format_queue_events

from jobs_ui.models import Job, JobKind, JobStatus
from jobs_ui.state.job_news import job_end_toast, newly_ended

SINCE = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def job(status: JobStatus, *, ended_after_since: float | None, kind=JobKind.EXPORT, **kw) -> Job:
    finished = (
        None
        if ended_after_since is None
        # naive, as SQLite hands timestamps back
        else (SINCE + timedelta(seconds=ended_after_since)).replace(tzinfo=None)
    )
    return Job(
        id=uuid.uuid4(), kind=kind, dataset="contacts", status=status, finished_at=finished, **kw
    )


def test_only_jobs_ended_since_the_tab_began_and_untold_in_the_order_they_ended():
    running = job(JobStatus.PROCESSING, ended_after_since=None)
    before = job(JobStatus.COMPLETED, ended_after_since=-5)
    second = job(JobStatus.FAILED, ended_after_since=9)
    first = job(JobStatus.COMPLETED, ended_after_since=2)
    told = job(JobStatus.CANCELLED, ended_after_since=3)
    ended = newly_ended([running, before, second, first, told], since=SINCE, told={str(told.id)})
    assert ended == [first, second]


def rendered(event) -> str:
    """The toast's event as the browser runs it."""
    return str(format_queue_events(event))


def test_a_completed_export_offers_its_download_and_its_page():
    done = job(
        JobStatus.COMPLETED,
        ended_after_since=1,
        result={"fileName": "contacts.csv", "rowCount": 3},
        message="Exported 3 rows",
    )
    toast = rendered(job_end_toast(done))
    assert "Export of contacts completed" in toast and "Exported 3 rows" in toast
    assert "Download" in toast and f"/api/import-export/jobs/{done.id}/download" in toast
    assert f"/exports/{done.id}" in toast


def test_a_failed_import_is_an_error_toast_with_its_error_and_link():
    failed = job(
        JobStatus.FAILED, ended_after_since=1, kind=JobKind.IMPORT, error="The file is empty."
    )
    toast = rendered(job_end_toast(failed))
    assert "Import of contacts failed" in toast and "The file is empty." in toast
    assert '["error"](' in toast and "Download" not in toast
    assert f"/imports/{failed.id}" in toast


def test_a_cancelled_dry_run_says_so():
    cancelled = job(
        JobStatus.CANCELLED, ended_after_since=1, kind=JobKind.IMPORT, params={"dryRun": True}
    )
    assert "Dry run of contacts was cancelled" in rendered(job_end_toast(cancelled))
