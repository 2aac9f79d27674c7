"""`open_reader`: the streaming reader for a file in a given format."""

from __future__ import annotations

from pathlib import Path

from jobs_ui.engines.formats.csv import CsvReader
from jobs_ui.engines.formats.jsonl import JsonLinesReader
from jobs_ui.engines.formats.kinds import FileFormat
from jobs_ui.engines.formats.rows import RowReader, UnreadableFileError
from jobs_ui.engines.formats.xlsx import XlsxReader
from jobs_ui.engines.limits import FileLimits

_NO_SHEETS = {
    FileFormat.CSV: "Only workbooks have sheets; this file is CSV.",
    FileFormat.JSONL: "Only workbooks have sheets; this file is JSON Lines.",
}


def open_reader(
    path: Path,
    fmt: FileFormat,
    limits: FileLimits | None = None,
    *,
    sheet: str | None = None,
    preview: bool = False,
) -> RowReader:
    """Open `path` for streaming; raises UnreadableFileError if it cannot be read at all,
    or when it is past one of `limits` (the defaults when None).

    `sheet` picks a workbook's worksheet (default: the first); `preview` says only the
    header and the first rows will be read, so opening must not cost the whole file."""
    limits = limits or FileLimits()
    if fmt is FileFormat.XLSX:
        return XlsxReader(path, limits, sheet=sheet, preview=preview)
    if sheet is not None:
        raise UnreadableFileError(_NO_SHEETS[fmt])
    # The text readers stream from the first byte, so a preview costs them nothing more.
    return CsvReader(path, limits) if fmt is FileFormat.CSV else JsonLinesReader(path, limits)
