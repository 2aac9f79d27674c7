"""Crafted packages where calamine would load another part than the one the estimate
measured: each must stream (never load whole) and import, or fail in a sentence. Each is
read in a child process, so a load that aborts (calamine cannot allocate) fails the test
rather than killing the test run."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
_TYPES = "http://schemas.openxmlformats.org/package/2006/content-types"
_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml"
WORKBOOK = f"{_CT}.sheet.main+xml"
WORKSHEET = f"{_CT}.worksheet+xml"
STRINGS = f"{_CT}.sharedStrings+xml"
NS = f'xmlns="{_MAIN}" xmlns:r="{_REL}"'


def workbook(names: list[str]) -> str:
    sheets = "".join(
        f'<sheet name="{name}" sheetId="{i + 1}" r:id="rId{i + 1}"/>'
        for i, name in enumerate(names)
    )
    return f"<workbook {NS}><sheets>{sheets}</sheets></workbook>"


def rels(targets: list[str]) -> str:
    items = "".join(
        f'<Relationship Id="rId{i + 1}" Type="{_REL}/worksheet" Target="{target}"/>'
        for i, target in enumerate(targets)
    )
    return f'<Relationships xmlns="{_PKG}">{items}</Relationships>'


def sheet(rows: str) -> str:
    return f"<worksheet {NS}><sheetData>{rows}</sheetData></worksheet>"


def text(ref: str, value: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{value}</t></is></c>'


SMALL = sheet(
    f'<row r="1">{text("A1", "name")}{text("B1", "email")}</row>'
    f'<row r="2">{text("A2", "x")}{text("B2", "x@y.z")}</row>'
)
# A1 and XFD1048576: calamine would allocate 17 billion cells (512 GB) for it.
HUGE = sheet(
    f'<row r="1">{text("A1", "name")}</row><row r="1048576"><c r="XFD1048576"><v>1</v></c></row>'
)
# One cell, XFD1048576, its reference in the part's last bytes (and no r: namespace, whose
# `r="` the scan would measure from).
FAR_AT_THE_END = (
    f'<worksheet xmlns="{_MAIN}"><sheetData>'
    '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row></sheetData></worksheet>'
)
LONG = "A" * (15 * 1024 * 1024)
TABLE = f"<sst {NS}><si><t>name</t></si><si><t>{LONG}</t></si></sst>"
DECOY = f"<sst {NS}><si><t>name</t></si><si><t>b</t></si></sst>"
SHARED = sheet(
    '<row r="1"><c r="A1" t="s"><v>0</v></c></row>'
    + "".join(f'<row r="{r}"><c r="A{r}" t="s"><v>1</v></c></row>' for r in range(2, 400))
)


def package(path: Path, parts: dict[str, str], overrides: list[tuple[str, str]]) -> Path:
    types = "".join(f'<Override PartName="/{p}" ContentType="{c}"/>' for p, c in overrides)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "[Content_Types].xml",
            f'<Types xmlns="{_TYPES}"><Default Extension="rels" ContentType='
            f'"application/vnd.openxmlformats-package.relationships+xml"/>'
            f'<Default Extension="xml" ContentType="application/xml"/>{types}</Types>',
        )
        archive.writestr(
            "_rels/.rels",
            f'<Relationships xmlns="{_PKG}"><Relationship Id="rId1" Type="{_REL}/officeDocument"'
            ' Target="xl/workbook.xml"/></Relationships>',
        )
        for name, data in parts.items():
            archive.writestr(name, data)
    return path


def one_sheet(path: Path, body: str, *extra: tuple[str, str, str | None]) -> Path:
    parts = {
        "xl/workbook.xml": workbook(["Data"]),
        "xl/_rels/workbook.xml.rels": rels(["worksheets/sheet1.xml"]),
        "xl/worksheets/sheet1.xml": body,
    }
    overrides = [("xl/workbook.xml", WORKBOOK), ("xl/worksheets/sheet1.xml", WORKSHEET)]
    for name, data, content_type in extra:
        parts[name] = data
        if content_type is not None:
            overrides.append((name, content_type))
    return package(path, parts, overrides)


def duplicate_names(path: Path, huge: str) -> Path:
    # Two sheets named "Data": openpyxl keeps the last, calamine loads the first.
    return package(
        path,
        {
            "xl/workbook.xml": workbook(["Data", "Data"]),
            "xl/_rels/workbook.xml.rels": rels(["worksheets/sheet1.xml", "worksheets/sheet2.xml"]),
            "xl/worksheets/sheet1.xml": huge,
            "xl/worksheets/sheet2.xml": SMALL,
        },
        [
            ("xl/workbook.xml", WORKBOOK),
            ("xl/worksheets/sheet1.xml", WORKSHEET),
            ("xl/worksheets/sheet2.xml", WORKSHEET),
        ],
    )


def two_workbooks(path: Path) -> Path:
    # The content types name xl/wb2.xml (a tiny sheet); calamine reads xl/workbook.xml.
    return package(
        path,
        {
            "xl/workbook.xml": workbook(["Data"]),
            "xl/_rels/workbook.xml.rels": rels(["worksheets/sheet1.xml"]),
            "xl/worksheets/sheet1.xml": HUGE,
            "xl/wb2.xml": workbook(["Data"]),
            "xl/_rels/wb2.xml.rels": rels(["worksheets/sheet2.xml"]),
            "xl/worksheets/sheet2.xml": SMALL,
        },
        [
            ("xl/wb2.xml", WORKBOOK),
            ("xl/worksheets/sheet1.xml", WORKSHEET),
            ("xl/worksheets/sheet2.xml", WORKSHEET),
        ],
    )


def bare_cells(path: Path) -> Path:
    # Cells without a reference: calamine places each after the one before, so 16,384 bare
    # cells reach column XFD, and a last row far down makes the rectangle 17 billion cells.
    wide = "<c/>" * 16383 + "<c><v>1</v></c>"
    body = sheet(
        f'<row r="1">{text("A1", "name")}</row><row r="2">{wide}</row>'
        '<row r="1048576"><c r="A1048576"><v>1</v></c></row>'
    )
    return one_sheet(path, body)


CASES = {
    "duplicate sheet names": lambda path: duplicate_names(path, HUGE),
    "two workbook parts": two_workbooks,
    "shared strings without an override": lambda path: one_sheet(
        path, SHARED, ("xl/sharedStrings.xml", TABLE, None)
    ),
    "shared strings override on a decoy": lambda path: one_sheet(
        path,
        SHARED,
        ("xl/sharedStrings.xml", TABLE, None),
        ("xl/decoy.xml", DECOY, STRINGS),
    ),
    "cells without references": bare_cells,
    # Found by fuzzing: a far reference in the part's last bytes was left for a next window
    # of the estimate's scan that never came, so the sheet was loaded whole (and, streamed,
    # openpyxl made up the million rows in between).
    "a far reference at the end of the part": lambda path: one_sheet(path, FAR_AT_THE_END),
}

READ = """
import json, resource, sys
from pathlib import Path
from jobs_ui.engines.formats import FileFormat, UnreadableFileError, open_reader
from jobs_ui.engines.limits import FileLimits

resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
try:
    with open_reader(Path(sys.argv[1]), FileFormat.XLSX, FileLimits()) as reader:
        rows = sum(1 for _ in reader)
        print(json.dumps({"whole": reader.loads_whole, "rows": rows}))
except UnreadableFileError as err:
    print(json.dumps({"error": str(err)}))
"""


def read_apart(path: Path) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", READ, str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, object] = json.loads(done.stdout)
    return result


@pytest.mark.parametrize("case", list(CASES))
def test_a_package_calamine_reads_otherwise_streams(tmp_path: Path, case: str) -> None:
    path = CASES[case](tmp_path / "crafted.xlsx")
    result = read_apart(path)
    # Streamed and read; or refused in a sentence (openpyxl finds no text for "t=s" cells
    # when no part is declared as the shared strings).
    assert result.get("whole") is False or "error" in result, result
    if "error" in result:
        expected = {
            "shared strings without an override": (
                "This file is not a valid Excel (.xlsx) workbook."
            ),
            "a far reference at the end of the part": (
                "The header row has 16,384 columns, more than the 1,000 this app reads. "
                "Remove the columns you do not need and upload again."
            ),
        }
        assert result["error"] == expected.get(case), result
    else:
        assert isinstance(result["rows"], int) and result["rows"] >= 1


def test_the_same_package_written_plainly_is_loaded_whole(tmp_path: Path) -> None:
    # The checks refuse only what calamine resolves otherwise: a plain package is fast.
    path = one_sheet(tmp_path / "plain.xlsx", SMALL)
    assert read_apart(path) == {"whole": True, "rows": 1}
    path = one_sheet(tmp_path / "decoded.xlsx", SHARED, ("xl/sharedStrings.xml", DECOY, STRINGS))
    assert read_apart(path) == {"whole": True, "rows": 398}
