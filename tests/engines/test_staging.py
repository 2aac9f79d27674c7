"""Import scratch space: duplicates found within a batch, across batches, in file order."""

from __future__ import annotations

import contextlib

from jobs_ui.engines.staging import ImportStaging


def test_repeated_keys_are_reported_with_the_first_row_that_had_them(tmp_path):
    with contextlib.closing(ImportStaging(tmp_path / "s.sqlite")) as staging:
        assert staging.stage_many([(2, "a", ("A",)), (3, "b", ("B",))]) == []
        # across batches (a) and within one (c twice)
        repeats = staging.stage_many([(4, "a", ("A2",)), (5, "c", ("C",)), (6, "c", ("C2",))])
        assert repeats == [(4, 2), (6, 5)]
        assert staging.staged_count == 3
        staged = [row for batch in staging.staged_batches(2) for row in batch]
        assert staged == [(2, "a", ("A",)), (3, "b", ("B",)), (5, "c", ("C",))]


def test_closing_removes_the_scratch_file(tmp_path):
    path = tmp_path / "s.sqlite"
    staging = ImportStaging(path)
    staging.skip(7, {"name": "x"}, "why")
    assert list(staging.skipped_rows()) == [(7, {"name": "x"}, "why")]
    staging.close()
    assert not path.exists()
