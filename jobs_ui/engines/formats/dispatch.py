"""`open_reader`: the streaming reader for a file in a given format."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from jobs_ui.engines.formats.csv import CsvReader
from jobs_ui.engines.formats.jsonl import JsonLinesReader
from jobs_ui.engines.formats.kinds import FileFormat
from jobs_ui.engines.formats.rows import RowReader
from jobs_ui.engines.formats.xlsx import XlsxReader
from jobs_ui.engines.limits import FileLimits


def open_reader(
    path: Path,
    fmt: FileFormat,
    limits: FileLimits | None = None,
    *,
    sheet: str | None = None,
    preview: bool = False,
) -> RowReader:
    """Open `path` for streaming; raises UnreadableFileError if it cannot be read at all,
    or when it is past one of `limits` (the defaults when None)."""
    readers: dict[FileFormat, Callable[[Path, FileLimits], RowReader]] = {
        FileFormat.CSV: CsvReader,
        FileFormat.JSONL: JsonLinesReader,
        FileFormat.XLSX: XlsxReader,
    }
    return readers[fmt](path, limits or FileLimits())
