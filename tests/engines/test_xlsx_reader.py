"""XLSX reading: any sheet by name, the memory budget that picks loading whole or streaming,
and both ways giving the same rows."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from datetime import date, datetime, time
from pathlib import Path

import pytest
from openpyxl import Workbook

from jobs_ui.engines.formats import FileFormat, RawRow, UnreadableFileError, open_reader
from jobs_ui.engines.formats.xlsx_package import NOT_FOLLOWED, estimated_bytes, read_package
from jobs_ui.engines.limits import FileLimits

ROOT = Path(__file__).resolve().parents[2]
WHOLE = FileLimits(xlsx_memory_bytes=1 << 40)
STREAMED = FileLimits(xlsx_memory_bytes=1)


def two_sheets(tmp_path: Path) -> Path:
    workbook = Workbook()
    first = workbook.active
    first.title = "People"
    first.append(["name", "age"])
    first.append(["Ann", 30])
    second = workbook.create_sheet("Orders")
    second["A3"] = "sku"  # not on row 1
    second["B3"] = "qty"
    second["A4"] = "A-1"
    second["B4"] = 2
    path = tmp_path / "two.xlsx"
    workbook.save(path)
    return path


def read(path: Path, limits: FileLimits, **kwargs: object) -> tuple[object, list[RawRow]]:
    with open_reader(path, FileFormat.XLSX, limits, **kwargs) as reader:  # type: ignore[arg-type]
        rows = list(reader)
        return (reader.sheets, reader.sheet, reader.columns, reader.loads_whole), rows  # type: ignore[attr-defined]


@pytest.mark.parametrize("limits", [WHOLE, STREAMED])
def test_a_sheet_is_read_by_name(tmp_path: Path, limits: FileLimits) -> None:
    (sheets, sheet, columns, whole), rows = read(two_sheets(tmp_path), limits, sheet="Orders")
    assert (sheets, sheet, columns) == (["People", "Orders"], "Orders", ["sku", "qty"])
    assert whole is (limits is WHOLE)
    assert rows == [RawRow(4, {"sku": "A-1", "qty": 2})]


def test_the_first_sheet_by_default(tmp_path: Path) -> None:
    (_sheets, sheet, columns, _whole), rows = read(two_sheets(tmp_path), WHOLE)
    assert (sheet, columns, rows) == (
        "People",
        ["name", "age"],
        [RawRow(2, {"name": "Ann", "age": 30})],
    )


def test_an_unknown_sheet_is_named_with_the_sheets_there_are(tmp_path: Path) -> None:
    with pytest.raises(UnreadableFileError) as caught:
        read(two_sheets(tmp_path), WHOLE, sheet="Sales")
    assert (
        str(caught.value)
        == 'The workbook has no sheet named "Sales". Its sheets: "People", "Orders".'
    )


def test_a_text_file_has_no_sheets(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("name\nAnn\n")
    with pytest.raises(UnreadableFileError, match="Only workbooks have sheets"):
        open_reader(path, FileFormat.CSV, sheet="x")
    with open_reader(path, FileFormat.CSV, sheet=None, preview=True) as reader:
        assert reader.sheets is None and reader.sheet is None


def mixed_workbook(tmp_path: Path) -> Path:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append([])
    sheet.append([" id ", "phone", "amount", "when", "day", "at", "ok", None, None])
    sheet.append([1, 5551234567, 12.5, datetime(2024, 5, 17, 9, 30), date(2024, 1, 2), time(3, 4)])
    sheet.append([])
    sheet.append([2, None, 1e20, None, None, None, False])
    sheet.append([3, "text", -0.25, None, None, None, True, "surplus"])
    sheet.append([10**15, " spaced ", 3.0])
    for number in range(200):
        sheet.append([number, f"row {number}", number / 7])
    path = tmp_path / "mixed.xlsx"
    workbook.save(path)
    return path


def test_both_ways_give_the_same_rows(tmp_path: Path) -> None:
    for path in (mixed_workbook(tmp_path), two_sheets(tmp_path)):
        whole_info, whole_rows = read(path, WHOLE)
        streamed_info, streamed_rows = read(path, STREAMED)
        assert whole_info[3] is True and streamed_info[3] is False
        assert whole_info[:3] == streamed_info[:3]
        assert whole_rows == streamed_rows
        assert [type(v) for r in whole_rows for v in r.values.values()] == [
            type(v) for r in streamed_rows for v in r.values.values()
        ]
    assert whole_rows  # the loop ran


def test_a_preview_streams_whatever_the_budget(tmp_path: Path) -> None:
    with open_reader(mixed_workbook(tmp_path), FileFormat.XLSX, WHOLE, preview=True) as reader:
        assert reader.loads_whole is False  # type: ignore[attr-defined]


def rewritten(tmp_path: Path, source: Path, old: bytes, new: bytes) -> Path:
    path = tmp_path / f"rewritten-{len(list(tmp_path.iterdir()))}.xlsx"
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                assert old in data
                data = data.replace(old, new)
            out.writestr(item, data)
    return path


def estimate(path: Path) -> int:
    with zipfile.ZipFile(path) as archive:
        package = read_package(archive)
        return estimated_bytes(archive, package.parts[package.sheets[0]], package.strings)


def test_two_far_apart_cells_count_as_the_rectangle_between_them(tmp_path: Path) -> None:
    # A1 and XFD1048576: a tiny file that calamine would hold as 17 billion cells.
    source = tmp_path / "small.xlsx"
    workbook = Workbook()
    workbook.active["A1"] = "name"
    workbook.active["A2"] = "x"
    workbook.save(source)
    bomb = rewritten(
        tmp_path, source, b'<c r="A2" t="inlineStr">', b'<c r="XFD1048576" t="inlineStr">'
    )
    assert estimate(source) < 1024 * 1024
    assert estimate(bomb) > 16384 * 1048576 * 32
    (*_, whole), rows = read(bomb, FileLimits())
    assert whole is False
    assert rows == [RawRow(2, {}, "Row has a value in column XFD, beyond the header's 1 column.")]


def test_references_in_a_form_the_scan_does_not_follow_are_streamed(tmp_path: Path) -> None:
    source = two_sheets(tmp_path)
    odd = rewritten(tmp_path, source, b'<c r="A2" t="inlineStr">', b"<c r='A2' t=\"inlineStr\">")
    errors = rewritten(tmp_path, source, b'<c r="B2" t="n">', b'<c r="B2" t="e">')
    assert estimate(source) < NOT_FOLLOWED
    assert estimate(odd) == estimate(errors) == NOT_FOLLOWED


def test_a_budget_too_small_streams(tmp_path: Path) -> None:
    path = mixed_workbook(tmp_path)
    cost = estimate(path)
    for budget, whole in ((cost, True), (cost - 1, False)):
        with open_reader(path, FileFormat.XLSX, FileLimits(xlsx_memory_bytes=budget)) as reader:
            assert reader.loads_whole is whole  # type: ignore[attr-defined]


MEASURE = """
import json, sys, threading, time
from pathlib import Path
from jobs_ui.engines.formats import FileFormat, open_reader
from jobs_ui.engines.limits import FileLimits

def rss():
    with open("/proc/self/status") as status:
        return next(int(l.split()[1]) * 1024 for l in status if l.startswith("VmRSS:"))

start = rss(); peak = [start]; done = threading.Event()
def sample():
    while not done.wait(0.005):
        peak[0] = max(peak[0], rss())
threading.Thread(target=sample, daemon=True).start()
limits = FileLimits(xlsx_memory_bytes=int(sys.argv[2]))
with open_reader(Path(sys.argv[1]), FileFormat.XLSX, limits) as reader:
    count = sum(1 for _ in reader)
    whole = reader.loads_whole
done.set()
print(json.dumps({"rows": count, "whole": whole, "growth": peak[0] - start}))
"""


def test_a_sheet_above_the_budget_imports_in_flat_memory(tmp_path: Path) -> None:
    path = tmp_path / "big.xlsx"
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("data")
    sheet.append(["name", "email", "company", "phone"])
    for number in range(60_000):
        sheet.append([f"Person {number}", f"p{number}@example.com", f"Co {number % 97}", number])
    workbook.save(path)
    budget = 8 * 1024 * 1024
    assert estimate(path) > budget
    measured = subprocess.run(
        [sys.executable, "-c", MEASURE, str(path), str(budget)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(measured.stdout)
    assert result["rows"] == 60_000 and result["whole"] is False
    assert result["growth"] < budget + 60 * 1024 * 1024


def test_a_far_column_anywhere_widens_the_rectangle(tmp_path: Path) -> None:
    # calamine's rectangle takes its rows from the first and last cells, its columns from
    # every cell: one cell in column XFD deep inside the part costs 16,384 slots a row.
    source = tmp_path / "long.xlsx"
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("data")
    sheet.append(["name"])
    for number in range(60_000):
        sheet.append([f"Person {number}"])
    workbook.save(source)
    wide = rewritten(
        tmp_path, source, b'<c r="A30000" t="inlineStr">', b'<c r="XFD30000" t="inlineStr">'
    )
    assert estimate(source) < 16 * 1024 * 1024
    assert estimate(wide) > 16384 * 60_000 * 32


@pytest.mark.parametrize("limits", [WHOLE, STREAMED])
def test_a_header_row_over_the_row_limit_fails_the_file(tmp_path: Path, limits: FileLimits) -> None:
    workbook = Workbook()
    workbook.active.append([f"h{number}" + "y" * 30_000 for number in range(40)])
    workbook.active.append(["x"] * 40)
    path = tmp_path / "wide.xlsx"
    workbook.save(path)
    with pytest.raises(UnreadableFileError) as caught:
        read(path, limits)
    assert str(caught.value) == (
        "The header row is longer than the 1 MB limit for one row. "
        "Shorten the column names and upload again."
    )


@pytest.mark.parametrize("limits", [WHOLE, STREAMED])
def test_a_data_row_over_the_row_limit_fails_the_file(tmp_path: Path, limits: FileLimits) -> None:
    workbook = Workbook()
    workbook.active.append(["name", "note"])
    workbook.active.append(["Ann", "short"])
    # 40 cells of 15,000 characters: 1.2 MB in UTF-8 (a cell holds at most 32,767).
    workbook.active.append(["Bob", *["é" * 15_000] * 40])
    path = tmp_path / "long.xlsx"
    workbook.save(path)
    with pytest.raises(UnreadableFileError) as caught:
        read(path, limits)
    assert str(caught.value) == (
        "Row 3 is longer than the 1 MB limit for one row. Shorten its values and upload again."
    )
