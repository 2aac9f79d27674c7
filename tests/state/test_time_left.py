"""The job page's "about 40 s left": the words, and when the state shows them."""

from __future__ import annotations

import pytest

from jobs_ui.client import JobUpdate
from jobs_ui.pages.exports import ExportJobState
from jobs_ui.state.job_status import time_left
from tests.state.test_job_status import state_of


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (None, ""),
        (-1, ""),
        (0, "a few seconds left"),
        (9, "a few seconds left"),
        (10, "about 10 s left"),
        (40, "about 40 s left"),
        (42, "about 40 s left"),
        (43, "about 45 s left"),
        (57, "about 55 s left"),
        (58, "about 1 min left"),
        (89, "about 1 min left"),
        (90, "about 2 min left"),  # halves go up
        (180, "about 3 min left"),
        (200, "about 3 min left"),
        (3569, "about 59 min left"),
        (3570, "about 1 h left"),
        (4800, "about 1 h 20 min left"),
        (2 * 86400, "about 48 h left"),
    ],
)
def test_time_left_in_words(seconds, words):
    assert time_left(seconds) == words


def update(status: str, version: int, **extra) -> JobUpdate:
    return JobUpdate(job_id="j1", status=status, progress=40, version=version, **extra)


def test_the_state_shows_it_while_processing_only():
    state = state_of(ExportJobState)
    state.job_id = "j1"
    state._take(update("PROCESSING", 2))
    assert state.eta_text == ""  # not known yet
    state._take(update("PROCESSING", 3, rows_per_second=812.5, eta_seconds=40))
    assert (state.rows_per_second, state.eta_seconds) == (812.5, 40)
    assert state.eta_text == "about 40 s left"
    state._take(update("PROCESSING", 4, eta_seconds=185))
    assert state.eta_text == "about 3 min left"
    state._take(update("COMPLETED", 5))
    assert (state.rows_per_second, state.eta_seconds, state.eta_text) == (None, None, "")


def test_following_another_job_forgets_the_pace():
    state = state_of(ExportJobState)
    state.job_id = "j1"
    state._take(update("PROCESSING", 3, rows_per_second=5.0, eta_seconds=40))
    state._restart("")
    assert (state.rows_per_second, state.eta_seconds, state.eta_text) == (None, None, "")
