"""A finished import in words: only the counts its mode can have."""

from __future__ import annotations

import pytest

from jobs_ui.jobs.outcome_text import outcome_sentence

COUNTS = {"createdCount": 50, "updatedCount": 20, "unchangedCount": 30, "skippedCount": 3}
WOULD = {"wouldCreate": 50, "wouldUpdate": 20, "unchangedCount": 30, "skippedCount": 3}


@pytest.mark.parametrize(
    ("result", "sentence"),
    [
        ({"mode": "upsert", **COUNTS}, "Created 50, updated 20, unchanged 30, skipped 3"),
        ({"mode": "update", **COUNTS}, "Updated 20, unchanged 30, skipped 3"),
        ({"mode": "insert", **COUNTS}, "Created 50 rows, skipped 3"),
        ({"mode": "insert", "createdCount": 1, "skippedCount": 0}, "Created 1 row"),
        (
            {"mode": "upsert", "dryRun": True, **WOULD},
            "Would create 50, update 20; 30 unchanged, 3 skipped",
        ),
        ({"mode": "update", "dryRun": True, **WOULD}, "Would update 20; 30 unchanged, 3 skipped"),
        ({"mode": "insert", "dryRun": True, **WOULD}, "Would create 50 rows, skip 3"),
        ({"importedCount": 5, "skippedCount": 1}, "Imported 5 rows, skipped 1"),  # before modes
    ],
)
def test_an_import_in_words(result, sentence):
    assert outcome_sentence(result) == sentence


def test_an_undo_in_words():
    undo = {"deletedCount": 4, "restoredCount": 2, "conflictCount": 1}
    assert (
        outcome_sentence(undo, undo=True)
        == "Deleted 4, restored 2; 1 changed since, left as they are"
    )
    assert outcome_sentence({**undo, "conflictCount": 0}, undo=True) == "Deleted 4, restored 2"
