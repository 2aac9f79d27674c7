"""XLSX: one worksheet of an Excel workbook, loaded whole when it fits the memory budget
(calamine, fast), else streamed (openpyxl, flat memory); the rows are the same either way."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, cast

from openpyxl.utils import get_column_letter
from python_calamine import CalamineError

from jobs_ui.engines.formats.base import ReaderBase, check_header, is_blank_cell, plural
from jobs_ui.engines.formats.rows import EMPTY, RawRow, UnreadableFileError
from jobs_ui.engines.formats.xlsx_package import (
    BROKEN_WORKBOOK_ERRORS,
    NOT_XLSX,
    estimated_bytes,
    read_package,
)
from jobs_ui.engines.formats.xlsx_sheets import (
    LoadedSheet,
    SheetRows,
    SheetsDisagree,
    StreamedSheet,
)
from jobs_ui.engines.formats.zip_guard import refuse_zip_bombs
from jobs_ui.engines.limits import FileLimits, size_label
from jobs_ui.engines.xlsx_writer import MAX_COLUMNS as SHEET_COLUMNS

_ERRORS = (*BROKEN_WORKBOOK_ERRORS, CalamineError)
_IS_TEXT = str.__instancecheck__
_MOST_UTF8_BYTES = 4  # per character


def _is_blank_row(row: Sequence[object]) -> bool:
    return all(value is None or value == "" for value in row)


def load_workbook(
    path: Path, file: IO[bytes], sheet: str, *, whole: bool, names: Sequence[str] = ()
) -> SheetRows:
    """The one place a workbook is loaded, once every check has passed: `sheet` loaded
    whole (calamine) or opened for streaming (openpyxl, from the open `file`). calamine is
    only trusted with a workbook whose sheets it lists as `names`; else the sheet streams."""
    if whole:
        try:
            return LoadedSheet(path, sheet, names)
        except SheetsDisagree:
            pass
    return StreamedSheet(file, sheet)


def too_long(row: Sequence[object], limit: int) -> bool:
    """Whether the row's text is more than `limit` bytes in UTF-8."""
    characters = sum(map(len, cast("filter[str]", filter(_IS_TEXT, row))))
    if characters > limit:
        return True
    if characters * _MOST_UTF8_BYTES <= limit:
        return False
    return sum(len(value.encode()) for value in row if isinstance(value, str)) > limit


def no_such_sheet(name: str, sheets: list[str]) -> str:
    listed = ", ".join(f'"{sheet}"' for sheet in sheets)
    return f'The workbook has no sheet named "{name}". Its sheets: {listed}.'


class XlsxReader(ReaderBase):
    """One worksheet of an Excel workbook: `sheet`, or the first.

    `preview` (only the first rows will be read) always streams, so opening takes the same
    time for any size of sheet.
    """

    def __init__(
        self, path: Path, limits: FileLimits, *, sheet: str | None = None, preview: bool = False
    ) -> None:
        # Pass an open file rather than the path to openpyxl: it refuses paths whose
        # extension it does not know, and uploads may be stored under any name.
        self._file = path.open("rb")
        self._source: SheetRows | None = None
        self._row_number = 0
        self._total_rows = 0
        self._done = False
        self._max_columns = limits.max_columns
        self._max_row_bytes = limits.max_line_bytes
        self._names: tuple[str, ...] = ()
        try:
            whole = self._choose(sheet, None if preview else limits.xlsx_memory_bytes)
            name = self.sheet
            assert name is not None
            try:
                self._source = load_workbook(path, self._file, name, whole=whole, names=self._names)
            except _ERRORS as err:
                raise UnreadableFileError(NOT_XLSX) from err
            self._total_rows = self._source.total_rows
            self._rows = self._guarded(self._source.rows())
            self._columns = self._read_header()
        except BaseException:
            self.close()
            raise

    @property
    def loads_whole(self) -> bool:
        """Whether the sheet was loaded whole (calamine) rather than streamed."""
        return isinstance(self._source, LoadedSheet)

    def _choose(self, sheet: str | None, budget: int | None) -> bool:
        """Find the sheets, pick one, and say whether it fits in `budget` loaded whole."""
        try:
            refuse_zip_bombs(self._file)
            with zipfile.ZipFile(self._file) as archive:
                package = read_package(archive)
                if not package.sheets:
                    raise UnreadableFileError(NOT_XLSX)
                self.sheets = package.sheets
                if sheet is not None and sheet not in package.parts:
                    raise UnreadableFileError(no_such_sheet(sheet, package.sheets))
                self.sheet = sheet if sheet is not None else package.sheets[0]
                self._names = package.names
                if budget is None or not package.canonical:
                    return False  # calamine might load parts other than those measured
                cost = estimated_bytes(archive, package.parts[self.sheet], package.strings)
                return cost <= budget
        except _ERRORS as err:
            raise UnreadableFileError(NOT_XLSX) from err
        finally:
            self._file.seek(0)

    def fraction_read(self) -> float:
        if self._done:
            return 1.0
        if not self._total_rows:
            return 0.0
        return min(self._row_number / self._total_rows, 1.0)

    def close(self) -> None:
        if self._source is not None:
            self._source.close()
            self._source = None
        self._file.close()

    def _guarded(self, rows: Iterator[tuple[int, Sequence[object]]]) -> Iterator[Sequence[object]]:
        """Track the sheet row number and report a damaged workbook in plain words."""
        try:
            for number, row in rows:
                self._row_number = number
                if len(row) > SHEET_COLUMNS:  # A to XFD
                    # A cell past XFD, which no spreadsheet writes (found by fuzzing).
                    raise UnreadableFileError(NOT_XLSX)
                yield row
        except _ERRORS as err:
            raise UnreadableFileError(NOT_XLSX) from err
        self._done = True

    def _read_header(self) -> list[str]:
        for row in self._rows:
            if _is_blank_row(row):
                continue
            if too_long(row, self._max_row_bytes):
                raise UnreadableFileError(
                    f"The header row is longer than the {size_label(self._max_row_bytes)} "
                    "limit for one row. Shorten the column names and upload again."
                )
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
        limit = self._max_row_bytes
        for row in self._rows:
            if _is_blank_row(row):
                continue
            if too_long(row, limit):
                # As for CSV: a row that long fails the file, one rule for every file-level
                # problem (its cells are not half-imported).
                raise UnreadableFileError(
                    f"Row {self._row_number:,} is longer than the {size_label(limit)} limit "
                    "for one row. Shorten its values and upload again."
                )
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

    def _wide_row(self, row: Sequence[object], width: int, values: dict[str, object]) -> RawRow:
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
