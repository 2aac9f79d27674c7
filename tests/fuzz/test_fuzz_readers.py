"""A short run of each fuzz target (the long runs: `python -m tests.fuzz.run`)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from jobs_ui.engines.formats import FileFormat
from tests.fuzz.inputs import FILES
from tests.fuzz.targets import ImportTarget, read_all

# A few seconds per target in the suite; `tests.fuzz.run` raises it for the long runs.
EXAMPLES = int(os.environ.get("JOBS_UI_FUZZ_EXAMPLES", "60"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,  # each run draws afresh; a failure prints the input to reproduce it
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def target() -> ImportTarget:
    return ImportTarget.at(Path(tempfile.mkdtemp(prefix="jobs-ui-fuzz-")))


@pytest.mark.parametrize("fmt", list(FileFormat), ids=str)
def test_any_file_is_rows_row_problems_or_one_file_error(fmt: FileFormat, tmp_path: Path):
    @FUZZ
    @given(data=FILES[fmt.value])
    def read(data: bytes) -> None:
        path = tmp_path / f"fuzzed.{fmt.value}"
        path.write_bytes(data)
        read_all(path, fmt)

    read()


@pytest.mark.parametrize("fmt", list(FileFormat), ids=str)
def test_any_file_imports_or_fails_with_a_sentence_and_changes_nothing(
    fmt: FileFormat, target: ImportTarget
):
    @FUZZ
    @given(data=FILES[fmt.value])
    def imported(data: bytes) -> None:
        target.import_bytes(data, fmt)

    imported()
