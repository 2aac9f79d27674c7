"""An Excel workbook written as a stream: one sheet, its rows as they come, flat memory.

An .xlsx file is a zip of XML parts (ECMA-376, Office Open XML). All of them but the sheet
are a few fixed lines; the sheet is written row by row straight into the zip, text as
inline strings (no shared-string table held in memory), as xlsxwriter's constant-memory
mode does. Written here rather than through a library because the libraries' per-cell
objects and calls were most of an export's time: openpyxl's write-only mode (the writer
before) ran at about a fifth of this writer's pace (`python -m bench.run --figures 12`),
xlsxwriter's constant-memory mode at about a third (a trial of 200,000 rows).
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import IO

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from jobs_ui.engines.formulas import neutralise_formula

SHEET_NAME = "data"
# A sheet holds 1,048,576 rows; the header takes one.
MAX_DATA_ROWS = 1_048_575
MAX_COLUMNS = 16_384
ROWS_PER_WRITE = 2_000  # rows joined into one write to the zip
# Level 3 of 9: a tenth smaller than level 1 for 3% more time; 6 saved 2% more for 15%.
COMPRESS_LEVEL = 3

# XML 1.0 cannot hold these at all (not even escaped), so they are dropped: openpyxl's set.
_NOT_IN_XML = ILLEGAL_CHARACTERS_RE
# A bare \r would read back as \n (XML normalises line ends), so it is written as a reference.
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
_EXCEL_EPOCH = datetime(1899, 12, 30)  # day 0 of Excel's 1900 date system, leap bug included

# Indexes into the cellXfs of _STYLES.
_BOLD, _DATE, _DATETIME, _TIME = 1, 2, 3, 4


class SheetFullError(Exception):
    """More rows than one sheet holds; the message says so, for a person."""


def too_many_rows_message(rows: int) -> str:
    return (
        f"An Excel sheet holds at most {MAX_DATA_ROWS:,} rows besides its header, and this "
        f"export has {rows:,}. Export it as CSV or JSON Lines, or filter it to fewer rows."
    )


def write_xlsx(
    path: Path, columns: Sequence[str], batches: Iterable[list[Sequence[object]]]
) -> int:
    """Write a workbook of one sheet: `columns` as a bold, frozen header row, then every
    row of `batches`. Returns the rows written; raises SheetFullError past a sheet's size."""
    if len(columns) > MAX_COLUMNS:
        raise SheetFullError(f"An Excel sheet holds at most {MAX_COLUMNS:,} columns.")
    letters = [column_letters(index) for index in range(len(columns))]
    written = 0
    deflated = zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(path, "w", deflated, compresslevel=COMPRESS_LEVEL) as package:
        for name, content in _FIXED_PARTS.items():
            package.writestr(name, content)
        with package.open("xl/worksheets/sheet1.xml", "w") as sheet:
            sheet.write(_SHEET_START)
            sheet.write(_row(1, letters, columns, style=_BOLD).encode())
            for batch in batches:
                if written + len(batch) > MAX_DATA_ROWS:
                    raise SheetFullError(too_many_rows_message(written + len(batch)))
                _write_rows(sheet, letters, batch, first=written + 2)
                written += len(batch)
            sheet.write(_SHEET_END)
    return written


def _write_rows(
    sheet: IO[bytes], letters: list[str], rows: list[Sequence[object]], first: int
) -> None:
    for start in range(0, len(rows), ROWS_PER_WRITE):
        part = rows[start : start + ROWS_PER_WRITE]
        xml = "".join(_row(number, letters, row) for number, row in enumerate(part, first + start))
        sheet.write(xml.encode())


def _row(number: int, letters: list[str], values: Sequence[object], style: int = 0) -> str:
    cells = [
        _cell(f"{letter}{number}", value, style)
        for letter, value in zip(letters, values, strict=True)
        if value is not None
    ]
    return f'<row r="{number}">{"".join(cells)}</row>'


def _cell(ref: str, value: object, style: int) -> str:
    styled = f' s="{style}"' if style else ""
    if isinstance(value, str):
        text = _text(value)
        return f'<c r="{ref}"{styled} t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>'
    if isinstance(value, bool):  # before int: a bool is an int too
        return f'<c r="{ref}"{styled} t="b"><v>{int(value)}</v></c>'
    if isinstance(value, int | float | Decimal):
        return f'<c r="{ref}"{styled}><v>{_number(value)}</v></c>'
    if isinstance(value, datetime):
        return f'<c r="{ref}" s="{_DATETIME}"><v>{_serial(value)!r}</v></c>'
    if isinstance(value, date):
        return f'<c r="{ref}" s="{_DATE}"><v>{(value - _EXCEL_EPOCH.date()).days}</v></c>'
    if isinstance(value, time):
        seconds = value.hour * 3600 + value.minute * 60 + value.second + value.microsecond / 1e6
        return f'<c r="{ref}" s="{_TIME}"><v>{seconds / 86_400!r}</v></c>'
    raise TypeError(f"Cannot write a {type(value).__name__} value to an Excel sheet")


def _text(value: str) -> str:
    """Text as the cell holds it: what XML cannot hold dropped, then a formula-like start
    neutralised (so a formula behind a dropped character never comes to the front)."""
    if _NOT_IN_XML.search(value):
        value = _NOT_IN_XML.sub("", value)
    return neutralise_formula(value).translate(_ESCAPES)


def _number(value: int | float | Decimal) -> str:
    number = float(value) if isinstance(value, Decimal) else value
    if isinstance(number, float) and (number != number or number in (float("inf"), -float("inf"))):
        raise ValueError("An Excel cell cannot hold NaN or infinity")
    return repr(number)


def _serial(moment: datetime) -> float:
    """Days since Excel's epoch; a moment with a zone is stored in UTC (Excel has none)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return (moment - _EXCEL_EPOCH) / timedelta(days=1)


def column_letters(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA: a column's name in a cell reference."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_RELATIONSHIPS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PACKAGE_RELATIONSHIPS = "http://schemas.openxmlformats.org/package/2006/relationships"
_XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'

# The header row stays in view while scrolling (a frozen pane below row 1).
_SHEET_START = (
    f'{_XML}<worksheet xmlns="{_MAIN}" xmlns:r="{_RELATIONSHIPS}">'
    '<sheetViews><sheetView tabSelected="1" workbookViewId="0">'
    '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
    '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/></sheetView></sheetViews>'
    '<sheetFormatPr defaultRowHeight="15"/><sheetData>'
).encode()
_SHEET_END = b"</sheetData></worksheet>"

_STYLES = (
    f'{_XML}<styleSheet xmlns="{_MAIN}">'
    '<numFmts count="3">'
    '<numFmt numFmtId="164" formatCode="yyyy\\-mm\\-dd"/>'
    '<numFmt numFmtId="165" formatCode="yyyy\\-mm\\-dd\\ hh:mm:ss"/>'
    '<numFmt numFmtId="166" formatCode="hh:mm:ss"/></numFmts>'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="5">'
    '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="166" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    "</cellXfs>"
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)

_SHEET_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml"
_FIXED_PARTS = {
    "[Content_Types].xml": (
        f"{_XML}"
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/xl/workbook.xml" ContentType="{_SHEET_TYPE}.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" '
        f'ContentType="{_SHEET_TYPE}.worksheet+xml"/>'
        f'<Override PartName="/xl/styles.xml" ContentType="{_SHEET_TYPE}.styles+xml"/>'
        "</Types>"
    ),
    "_rels/.rels": (
        f'{_XML}<Relationships xmlns="{_PACKAGE_RELATIONSHIPS}">'
        f'<Relationship Id="rId1" Type="{_RELATIONSHIPS}/officeDocument" Target="xl/workbook.xml"/>'
        "</Relationships>"
    ),
    "xl/workbook.xml": (
        f'{_XML}<workbook xmlns="{_MAIN}" xmlns:r="{_RELATIONSHIPS}">'
        '<bookViews><workbookView activeTab="0"/></bookViews>'
        f'<sheets><sheet name="{SHEET_NAME}" sheetId="1" r:id="rId1"/></sheets></workbook>'
    ),
    "xl/_rels/workbook.xml.rels": (
        f'{_XML}<Relationships xmlns="{_PACKAGE_RELATIONSHIPS}">'
        f'<Relationship Id="rId1" Type="{_RELATIONSHIPS}/worksheet" '
        'Target="worksheets/sheet1.xml"/>'
        f'<Relationship Id="rId2" Type="{_RELATIONSHIPS}/styles" Target="styles.xml"/>'
        "</Relationships>"
    ),
    "xl/styles.xml": _STYLES,
}
