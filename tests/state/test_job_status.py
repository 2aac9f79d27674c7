"""The useJobStatus port without a browser: applying updates, flags, hooks, restarts."""

from __future__ import annotations

import reflex as rx

from jobs_ui.client import JobNotFoundError, JobUpdate, Transport
from jobs_ui.components.error_table import RowError
from jobs_ui.pages.exports import ExportJobState
from jobs_ui.pages.import_job import ImportJobState


def state_of(cls):
    root = rx.State(_reflex_internal_init=True)  # type: ignore[call-arg]
    return root.get_substate(cls.get_full_name().split(".")[1:])


def update(status: str, progress: int = 0, version: int = 1, **extra) -> JobUpdate:
    return JobUpdate(job_id="j1", status=status, progress=progress, version=version, **extra)


def hook_names(hooks) -> list[str]:
    return [hook.handler.fn.__name__ for hook in hooks]


def test_flags_follow_the_status():
    state = state_of(ImportJobState)
    state.job_id = "j1"
    assert state.is_loading and not state.is_processing
    state._take(update("PROCESSING", 40, message="Validating rows: 40,000 read"))
    assert (state.progress, state.message) == (40, "Validating rows: 40,000 read")
    assert state.is_processing and state.is_active and not state.is_loading
    state._take(update("FAILED", 40, version=3, error="The file is empty."))
    assert state.is_failed and not state.is_active and state.error == "The file is empty."
    state._take(update("CANCELLED", 40, version=4))
    assert state.is_cancelled and not state.is_completed


def test_hooks_fire_on_changes_only():
    state = state_of(ImportJobState)
    state.job_id = "j1"
    assert hook_names(state._take(update("PROCESSING", 10))) == ["on_status_change"]
    assert state._take(update("PROCESSING", 20, version=2)) == []
    done = state._take(update("COMPLETED", 100, version=3, result={"importedCount": 2}))
    # An import's page also looks up the imports of its rows fixed since.
    assert hook_names(done) == ["on_status_change", "on_complete", "load_fixes"]
    failed = state_of(ImportJobState)
    failed.job_id = "j1"
    assert hook_names(failed._take(update("FAILED", error="x"))) == ["on_status_change", "on_error"]


def test_import_result_reads_as_a_sentence_and_a_table():
    state = state_of(ImportJobState)
    result = {
        "importedCount": 1200,
        "skippedCount": 3,
        "errors": [{"row": 4, "message": "email is required"}],
        "errorReportUrl": "/api/import-export/jobs/j1/error-report",
    }
    state._take(update("COMPLETED", 100, result=result, dataset="contacts"))
    assert state.summary == "Imported 1,200 rows, skipped 3"
    assert state.row_errors == [RowError(row=4, message="email is required")]
    assert state.error_report_href.endswith("/api/import-export/jobs/j1/error-report")
    assert state.error_report_href.startswith("http")
    assert state.headline == "Import into contacts"
    state._take(update("COMPLETED", 100, version=2, result={"importedCount": 5, "skippedCount": 0}))
    assert state.summary == "Imported 5 rows"


def test_transport_and_not_found():
    state = state_of(ExportJobState)
    state.job_id = "j1"
    state._take(Transport.POLLING)
    assert state.transport == "polling"
    state._take(update("COMPLETED", 100, result={"fileUrl": "/f", "fileName": "c.csv"}))
    assert state.transport == "" and state.file_name == "c.csv"
    lost = state_of(ExportJobState)
    hooks = lost._take(JobNotFoundError())
    assert lost.not_found and hook_names(hooks) == ["on_error"]


def test_restarting_resets_and_bumps_the_generation():
    state = state_of(ExportJobState)
    ExportJobState.start_following.fn(state, "j1")  # type: ignore[attr-defined]
    state._take(update("FAILED", 30, error="boom"))
    generation = state._generation
    event = ExportJobState.start_following.fn(state, "j2")  # type: ignore[attr-defined]
    assert (state.job_id, state.status, state.error, state.progress) == ("j2", "", "", 0)
    assert state._generation == generation + 1
    assert event is not None  # the follower starts for the new job
    ExportJobState.stop_following.fn(state)  # type: ignore[attr-defined]
    assert state._generation == generation + 2


def test_export_downloads_by_itself_only_for_the_job_this_tab_started():
    state = state_of(ExportJobState)
    state.job_id = "j1"
    result = {"fileUrl": "/api/import-export/jobs/j1/download"}
    assert (
        ExportJobState.on_complete.fn(state, result) is None
    )  # opened later: no surprise download
    state._download_when_done = "j1"
    assert ExportJobState.on_complete.fn(state, result) is not None
    assert ExportJobState.on_complete.fn(state, result) is None  # once


async def test_a_database_that_cannot_be_reached_reads_as_a_503_to_the_pages():
    from sqlalchemy.exc import OperationalError

    from jobs_ui.jobs.commands import CommandError
    from jobs_ui.state.backend import run_command

    def unreachable() -> None:
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    try:
        await run_command(unreachable)
    except CommandError as error:
        assert error.status == 503 and "database" in error.message
    else:
        raise AssertionError("the failure was not turned into a CommandError")


def test_a_run_after_a_restart_says_so_while_it_runs():
    state = state_of(ImportJobState)
    state.job_id = "j1"
    state._take(update("PROCESSING", 40))
    assert state.restart_note == ""
    state._take(update("PENDING", 0, version=2, attempt=2))
    assert "Started again after the server restarted (run 2)" in state.restart_note
    state._take(update("PROCESSING", 10, version=3, attempt=2))
    assert "nothing is done twice" in state.restart_note
    state._take(update("COMPLETED", 100, version=4, attempt=2, result={"importedCount": 1}))
    assert state.restart_note == ""
