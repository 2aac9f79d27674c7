"""Each file fuzzing found a bug with (tests/fuzz/found), read and imported again: each ends
in rows or one file error now, never another exception or a hang."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from jobs_ui.engines.formats import FileFormat
from jobs_ui.engines.formats.jsonl import NOT_UNICODE
from jobs_ui.engines.limits import FileLimits
from tests.fuzz.targets import ImportTarget, read_all

FOUND = sorted((Path(__file__).parent / "found").iterdir())
EXPECTED: dict[str, str | list[str | None]] = {  # a file error, or each row's problem
    # A cell at column ZZZZ (past XFD): the row check's column name raised ValueError.
    "cell-past-column-xfd.xlsx": "This file is not a valid Excel (.xlsx) workbook.",
    # XFD1048576 in the part's last bytes: loaded whole as 17 billion cells (a hang).
    "one-far-reference-at-the-end.xlsx": "This file is not a valid Excel (.xlsx) workbook.",
    # "\uda00": half a surrogate pair, which staging the skipped row could not encode.
    "lone-surrogate-escape.jsonl": [NOT_UNICODE],
}


def test_every_found_file_says_what_it_found():
    assert {path.name for path in FOUND} == set(EXPECTED)


@pytest.mark.parametrize("path", FOUND, ids=lambda path: path.name)
@pytest.mark.parametrize("limits", ["small", "default"])
def test_a_found_file_is_read_to_its_one_error(path: Path, limits: str, monkeypatch):
    if limits == "default":  # as the app runs: larger sheets loaded whole
        monkeypatch.setattr("tests.fuzz.targets.LIMITS", FileLimits())
    read = read_all(path, FileFormat(path.suffix[1:]))
    said = read if isinstance(read, str) else [row.problem for row in read]
    assert said == EXPECTED[path.name]


@pytest.mark.parametrize("path", FOUND, ids=lambda path: path.name)
def test_a_found_file_imports_as_any_bad_file_does(path: Path):
    target = ImportTarget.at(Path(tempfile.mkdtemp(prefix="jobs-ui-found-")))
    target.import_bytes(path.read_bytes(), FileFormat(path.suffix[1:]))
    # A broken workbook fails in its sentence; the JSON line is skipped with its reason.
    ended = "completed" if path.suffix == ".jsonl" else "failed with a sentence"
    assert target.outcomes == {ended: 1}
