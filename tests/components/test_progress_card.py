"""The progress card shows the time left beside the bar, under its own test id."""

from __future__ import annotations

from jobs_ui.components.progress_card import progress_bar, progress_card
from jobs_ui.pages.exports import ExportJobState


def test_the_bar_carries_the_time_left_and_the_card_keeps_its_test_ids():
    bar = str(progress_bar(ExportJobState))
    assert '"data-testid":"job-eta"' in bar
    assert "eta_text" in bar  # the state's words, shown only when there are some
    card = str(progress_card(ExportJobState, "Export"))
    for test_id in ("progress-percent", "job-message", "job-eta", "transport", "not-found"):
        assert f'"data-testid":"{test_id}"' in card, test_id
