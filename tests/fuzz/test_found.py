"""Each file fuzzing found a bug with (tests/fuzz/found), read and imported again: each ends
in rows or one file error now, never another exception or a hang."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from jobs_ui.engines.formats import FileFormat
from jobs_ui.engines.limits import FileLimits
from tests.fuzz.targets import ImportTarget, read_all

FOUND = sorted((Path(__file__).parent / "found").iterdir())
EXPECTED = {
    # A cell at column ZZZZ (past XFD): the row check's column name raised ValueError.
    "cell-past-column-xfd.xlsx": "This file is not a valid Excel (.xlsx) workbook.",
    # XFD1048576 in the part's last bytes: loaded whole as 17 billion cells (a hang).
    "one-far-reference-at-the-end.xlsx": "This file is not a valid Excel (.xlsx) workbook.",
}


def test_every_found_file_says_what_it_found():
    assert {path.name for path in FOUND} == set(EXPECTED)


@pytest.mark.parametrize("path", FOUND, ids=lambda path: path.name)
@pytest.mark.parametrize("limits", ["small", "default"])
def test_a_found_file_is_read_to_its_one_error(path: Path, limits: str, monkeypatch):
    if limits == "default":  # as the app runs: larger sheets loaded whole
        monkeypatch.setattr("tests.fuzz.targets.LIMITS", FileLimits())
    assert read_all(path, FileFormat(path.suffix[1:])) == EXPECTED[path.name]


@pytest.mark.parametrize("path", FOUND, ids=lambda path: path.name)
def test_a_found_file_fails_its_import_with_that_sentence(path: Path):
    target = ImportTarget.at(Path(tempfile.mkdtemp(prefix="jobs-ui-found-")))
    target.import_bytes(path.read_bytes(), FileFormat(path.suffix[1:]))
    assert target.outcomes == {"failed with a sentence": 1}
