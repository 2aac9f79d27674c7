"""The two ways of reading one worksheet's rows: loaded whole (calamine) or streamed (openpyxl).

Both yield `(row number, cells)` for every row from the sheet's first, with the cells from
column A and typed as openpyxl types them, so the reader on top gives the same rows whichever
one it is given. calamine is ~15x faster; its sheet is held in memory whole, so the reader
only chooses it for a sheet that fits the budget (see `xlsx_package`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Protocol, cast

from openpyxl.reader.excel import ExcelReader
from openpyxl.utils.cell import range_boundaries
from openpyxl.worksheet._read_only import ReadOnlyWorksheet
from openpyxl.worksheet._reader import WorkSheetParser
from python_calamine import CalamineWorkbook

# calamine reads every number as a float. openpyxl gives an int for a value written without
# a point or exponent, which is how writers store whole numbers below this.
_WHOLE_NUMBER_LIMIT = float(2**53)
_SIZE_SEARCH_BYTES = 64 * 1024
_DIMENSION = re.compile(rb'<(?:\w+:)?dimension ref="([A-Z0-9:$]+)"')


class SheetRows(Protocol):
    total_rows: int
    """The sheet's last row number as stored (for progress; may be wrong)."""

    def rows(self) -> Iterator[tuple[int, Sequence[object]]]: ...

    def close(self) -> None: ...


class StreamedSheet:
    """A worksheet read a row at a time with openpyxl in read-only mode: flat memory."""

    def __init__(self, file: IO[bytes], name: str) -> None:
        # External links are not needed for cell values; not keeping them leaves their
        # (possibly large) cached copies unread.
        reader = _OneSheetReader(file, name)
        reader.read()
        self._workbook = reader.wb
        try:
            sheet = self._workbook[name]
            self.total_rows: int = sheet.max_row or 0
            # Some writers store a wrong size; without resetting, openpyxl would cut the
            # data to that size. The stored size is still fine for progress.
            sheet.reset_dimensions()
            self._sheet = cast(_QuickSizeSheet, sheet)
        except BaseException:
            self._workbook.close()
            raise

    def rows(self) -> Iterator[tuple[int, Sequence[object]]]:
        return self._sheet.stored_rows()

    def close(self) -> None:
        self._workbook.close()


class _QuickSizeSheet(ReadOnlyWorksheet):  # type: ignore[misc]
    """openpyxl looks for a sheet's stored size by parsing up to the end of its rows, which
    for a sheet without one (openpyxl's own write-only output) is the whole sheet: ~20 s
    for a million rows, before the first row. The size, when stored, is near the top."""

    def _get_size(self) -> None:
        with self._get_source() as source:
            head = source.read(_SIZE_SEARCH_BYTES)
        found = _DIMENSION.search(head)
        if found is not None:
            try:
                bounds = range_boundaries(found[1].decode())
            except ValueError:
                return
            self._min_column, self._min_row, self._max_column, self._max_row = bounds

    def stored_rows(self) -> Iterator[tuple[int, tuple[object, ...]]]:
        """The rows the sheet stores, with their numbers, each from column A to its last
        cell. openpyxl's iter_rows also makes up every row missing in between: a sheet whose
        one cell is XFD1048576 (a 200-byte file) became a million rows of 16,384 cells."""
        last = 0
        with self._get_source() as source:
            parser = WorkSheetParser(
                source,
                self._shared_strings,
                data_only=self.parent.data_only,
                epoch=self.parent.epoch,
                date_formats=self.parent._date_formats,
                timedelta_formats=self.parent._timedelta_formats,
            )
            for number, cells in parser.parse():
                if number <= last:  # a row stored again, or out of order: as openpyxl, dropped
                    continue
                last = number
                yield number, self._get_row(cells, values_only=True)


class _OneSheetReader(ExcelReader):  # type: ignore[misc]
    """openpyxl's reader in read-only mode, opening only the sheet that will be read."""

    def __init__(self, file: IO[bytes], name: str) -> None:
        super().__init__(file, read_only=True, data_only=True, keep_links=False)
        self._name = name

    def read_worksheets(self) -> None:
        for sheet, relationship in self.parser.find_sheets():
            if sheet.name == self._name and relationship.target in self.valid_files:
                worksheet = _QuickSizeSheet(
                    self.wb, sheet.name, relationship.target, self.shared_strings
                )
                self.wb._sheets.append(worksheet)


class SheetsDisagree(Exception):
    """calamine lists the workbook's sheets otherwise than openpyxl: it may not load the part
    that was measured, so the sheet is streamed instead."""


class LoadedSheet:
    """A worksheet loaded whole by calamine, its values retyped as openpyxl gives them.

    `names` are the sheets openpyxl finds in the workbook, in order; calamine must list the
    same (a name it reads otherwise would make it load another sheet), and the sheet is
    loaded by its position, not looked up by a name two sheets might share."""

    def __init__(self, path: Path, name: str, names: Sequence[str]) -> None:
        self._workbook = CalamineWorkbook.from_path(str(path))
        try:
            if list(self._workbook.sheet_names) != list(names) or list(names).count(name) != 1:
                raise SheetsDisagree(name)
            self._sheet = self._workbook.get_sheet_by_index(list(names).index(name))
        except BaseException:
            self._workbook.close()
            raise
        # calamine's rows start at row 1 but at the first column holding a value; openpyxl's
        # at A1.
        start = self._sheet.start
        self._first_column = 0 if start is None else start[1]
        self.total_rows = self._sheet.total_height

    def rows(self) -> Iterator[tuple[int, Sequence[object]]]:
        padding: list[object] = [None] * self._first_column
        for number, cells in enumerate(self._sheet.iter_rows(), start=1):
            row = cast(list[object], cells)
            if set(map(type, row)) != {str}:
                _retype(row)
            yield number, (padding + row if padding else row)

    def close(self) -> None:
        self._workbook.close()


def _retype(row: list[object]) -> None:
    """Whole numbers as int, dates as midnight datetimes, as openpyxl reads them."""
    for index, value in enumerate(row):
        kind = type(value)
        if kind is float:
            assert isinstance(value, float)
            if value.is_integer() and -_WHOLE_NUMBER_LIMIT < value < _WHOLE_NUMBER_LIMIT:
                row[index] = int(value)
        elif kind is dt.date:
            assert isinstance(value, dt.date)
            row[index] = dt.datetime(value.year, value.month, value.day)
