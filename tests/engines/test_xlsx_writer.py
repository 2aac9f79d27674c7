"""The streaming Excel writer: a package Excel's readers take, typed cells, a bold frozen
header, and a clear refusal past one sheet's rows."""

from __future__ import annotations

import zipfile
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from xml.etree import ElementTree

import pytest
from openpyxl import load_workbook

from jobs_ui.engines import xlsx_writer
from jobs_ui.engines.formats import FileFormat
from jobs_ui.engines.writers import write_rows
from jobs_ui.engines.xlsx_writer import SheetFullError, column_letters, write_xlsx


def test_every_part_is_well_formed_xml_and_listed_in_the_content_types(tmp_path: Path):
    path = tmp_path / "out.xlsx"
    write_xlsx(path, ["a", "b"], [[("x & <y>", 1)], [(None, 2.5)]])
    with zipfile.ZipFile(path) as package:
        assert package.testzip() is None
        names = package.namelist()
        for name in names:
            ElementTree.fromstring(package.read(name))  # raises on malformed XML
        types = package.read("[Content_Types].xml").decode()
    assert {"xl/workbook.xml", "xl/worksheets/sheet1.xml", "xl/styles.xml"} <= set(names)
    for part in ("/xl/workbook.xml", "/xl/worksheets/sheet1.xml", "/xl/styles.xml"):
        assert f'PartName="{part}"' in types


def test_cells_keep_their_types_and_the_header_is_bold_and_frozen(tmp_path: Path):
    path = tmp_path / "out.xlsx"
    moment = datetime(2026, 12, 3, 9, 30, 5)
    row = ("text", 42, 2.5, Decimal("0.35"), True, date(2026, 1, 31), moment, time(8, 15))
    columns = ["s", "i", "f", "d", "b", "day", "at", "clock"]
    assert write_xlsx(path, columns, [[row]]) == 1

    sheet = load_workbook(path).worksheets[0]
    assert sheet.title == "data" and sheet.freeze_panes == "A2"
    assert [cell.value for cell in sheet[1]] == columns
    assert all(cell.font.b for cell in sheet[1])
    cells = sheet[2]
    assert [cell.value for cell in cells] == [
        "text", 42, 2.5, 0.35, True, datetime(2026, 1, 31), moment, time(8, 15)
    ]  # fmt: skip
    assert [cell.number_format for cell in cells[5:]] == [
        "yyyy\\-mm\\-dd", "yyyy\\-mm\\-dd\\ hh:mm:ss", "hh:mm:ss"
    ]  # fmt: skip
    assert not any(cell.font.b for cell in cells)


def test_text_reads_back_as_written_line_ends_and_spaces_included(tmp_path: Path):
    path = tmp_path / "out.xlsx"
    texts = ["  padded  ", "two\nlines", "carriage\rreturn", "crlf\r\nend", "ünï & <ok>"]
    write_xlsx(path, ["t"], [[(text,) for text in texts]])
    sheet = load_workbook(path).worksheets[0]
    assert [sheet.cell(row=n, column=1).value for n in range(2, 7)] == texts


def test_empty_cells_are_left_out_and_columns_past_z_are_named(tmp_path: Path):
    path = tmp_path / "out.xlsx"
    columns = [f"c{n}" for n in range(30)]
    write_xlsx(path, columns, [[tuple(None if n % 2 else n for n in range(30))]])
    with zipfile.ZipFile(path) as package:
        sheet_xml = package.read("xl/worksheets/sheet1.xml").decode()
    assert '<c r="AC2"><v>28</v></c>' in sheet_xml and 'r="AD2"' not in sheet_xml
    assert [column_letters(n) for n in (0, 25, 26, 701, 702, 16_383)] == [
        "A", "Z", "AA", "ZZ", "AAA", "XFD"
    ]  # fmt: skip


def test_values_a_cell_cannot_hold_are_refused(tmp_path: Path):
    with pytest.raises(ValueError, match="NaN"):
        write_xlsx(tmp_path / "nan.xlsx", ["f"], [[(float("nan"),)]])
    with pytest.raises(TypeError, match="bytes"):
        write_xlsx(tmp_path / "bytes.xlsx", ["b"], [[(b"\x00",)]])


def test_more_rows_than_a_sheet_holds_fail_with_a_sentence_and_leave_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(xlsx_writer, "MAX_DATA_ROWS", 10)
    rows = [(n,) for n in range(11)]
    with pytest.raises(SheetFullError, match="at most 10 rows besides its header"):
        write_rows(tmp_path / "big.xlsx", FileFormat.XLSX, ["n"], rows, batch_size=4)
    assert list(tmp_path.iterdir()) == []
    assert write_rows(tmp_path / "full.xlsx", FileFormat.XLSX, ["n"], rows[:10]) == 10
