"""XLSX: Excel workbooks, streamed row by row through openpyxl."""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from openpyxl import Workbook, load_workbook
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException

from jobs_ui.engines.formats.base import ReaderBase, check_header, is_blank_cell, plural
from jobs_ui.engines.formats.rows import EMPTY, RawRow, UnreadableFileError
from jobs_ui.engines.formats.zip_guard import refuse_zip_bombs
from jobs_ui.engines.limits import FileLimits

_NOT_XLSX = "This file is not a valid Excel (.xlsx) workbook."

# openpyxl reports a damaged workbook through many unrelated exception types.
_BROKEN_WORKBOOK_ERRORS = (
    zipfile.BadZipFile,
    InvalidFileException,
    KeyError,
    IndexError,
    ValueError,
    TypeError,
    SyntaxError,  # includes xml.etree.ElementTree.ParseError
    zlib.error,
    EOFError,
    OSError,  # e.g. "File contains no valid workbook part"
    RuntimeError,  # zipfile: encrypted entries
)


def _open_workbook(file: IO[bytes]) -> Workbook:
    """Open a workbook for streaming, or say in plain words that it is not one."""
    try:
        refuse_zip_bombs(file)
        # External links are not needed for cell values; not keeping them leaves their
        # (possibly large) cached copies unread.
        return load_workbook(file, read_only=True, data_only=True, keep_links=False)
    except _BROKEN_WORKBOOK_ERRORS as err:
        raise UnreadableFileError(_NOT_XLSX) from err


def _is_blank_row(row: tuple[object, ...]) -> bool:
    return all(value is None or value == "" for value in row)


class XlsxReader(ReaderBase):
    """The first worksheet of an Excel workbook, read with openpyxl in read-only mode."""

    def __init__(self, path: Path, limits: FileLimits) -> None:
        # Pass an open file rather than the path: openpyxl refuses paths whose
        # extension it does not know, and uploads may be stored under any name.
        self._file = path.open("rb")
        self._workbook: Workbook | None = None
        self._row_number = 0
        self._done = False
        self._max_columns = limits.max_columns
        try:
            self._workbook = _open_workbook(self._file)
            if not self._workbook.worksheets:
                raise UnreadableFileError(_NOT_XLSX)
            sheet = self._workbook.worksheets[0]
            self._total_rows = sheet.max_row or 0
            # Some writers store a wrong size; without resetting, openpyxl would cut
            # the data to that size. The stored size is still fine for progress.
            sheet.reset_dimensions()
            self._rows = self._guarded(sheet.iter_rows(values_only=True))
            self._columns = self._read_header()
        except BaseException:
            self.close()
            raise

    def fraction_read(self) -> float:
        if self._done:
            return 1.0
        if not self._total_rows:
            return 0.0
        return min(self._row_number / self._total_rows, 1.0)

    def close(self) -> None:
        if self._workbook is not None:
            self._workbook.close()
        self._file.close()

    def _guarded(self, rows: Iterator[tuple[object, ...]]) -> Iterator[tuple[object, ...]]:
        """Track the sheet row number and report a damaged workbook in plain words."""
        try:
            for row in rows:
                self._row_number += 1
                yield tuple(row)
        except _BROKEN_WORKBOOK_ERRORS as err:
            raise UnreadableFileError(_NOT_XLSX) from err
        self._done = True

    def _read_header(self) -> list[str]:
        for row in self._rows:
            if _is_blank_row(row):
                continue
            cells = list(row)
            # Formatted but empty cells often extend a row past the real header.
            while is_blank_cell(cells[-1]):
                cells.pop()
            names = ["" if cell is None else str(cell).strip() for cell in cells]
            return check_header(names, self._max_columns)
        raise UnreadableFileError(EMPTY)

    def __iter__(self) -> Iterator[RawRow]:
        keys = self._keys_by_position()
        width = len(keys)
        for row in self._rows:
            if _is_blank_row(row):
                continue
            # Spreadsheets drop trailing empty cells: a short row's last columns are blank.
            values = {
                key: value
                for key, value in zip(keys, row, strict=False)
                if key and not is_blank_cell(value)
            }
            if len(row) > width:
                yield self._wide_row(row, width, values)
            else:
                yield RawRow(self._row_number, values)

    def _wide_row(self, row: tuple[object, ...], width: int, values: dict[str, object]) -> RawRow:
        """A row longer than the header is fine unless the extra cells hold something."""
        beyond = range(width, len(row))
        extra = next((index for index in beyond if not is_blank_cell(row[index])), None)
        if extra is None:
            return RawRow(self._row_number, values)
        problem = (
            f"Row has a value in column {get_column_letter(extra + 1)}, "
            f"beyond the header's {plural(width, 'column')}."
        )
        return RawRow(self._row_number, values, problem)
