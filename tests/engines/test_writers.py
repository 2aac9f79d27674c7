"""Tests for the streaming export writers in jobs_ui.engines.writers."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook

from jobs_ui.engines.formats import FileFormat, open_reader
from jobs_ui.engines.formulas import FORMULA_PREFIXES, neutralise_formula, restore_neutralised
from jobs_ui.engines.records import records
from jobs_ui.engines.writers import write_rows

COLUMNS = ["id", "name", "amount", "note"]
ROWS: list[tuple[object, ...]] = [
    (1, "Ann", Decimal("12.50"), None),
    (2, '=HYPERLINK("http://evil")', Decimal("0.10"), "-5 apples"),
    (3, 'Zoë, "the" Great', Decimal("1234567.89"), "line one\nline two"),
    (4, "@SUM(A1)", Decimal("-3.00"), "'quoted"),
    (5, "\tTabbed", Decimal("0.00"), "+44 20 7946 0000"),
]


class Cancelled(Exception):
    """Stands in for the caller's cancellation signal."""


# ---------------------------------------------------------------------------
# Formula neutralising


@pytest.mark.parametrize("prefix", FORMULA_PREFIXES)
def test_neutralise_formula_prefixes_a_quote(prefix: str) -> None:
    text = prefix + "1+2"

    assert neutralise_formula(text) == "'" + text
    assert restore_neutralised(neutralise_formula(text)) == text


@pytest.mark.parametrize("text", ["plain", "", "1+2", "'quoted", "''=x", "a=b", " =x"])
def test_neutralise_leaves_safe_text_alone(text: str) -> None:
    assert neutralise_formula(text) == text
    assert restore_neutralised(text) == text


def test_control_characters_are_formula_prefixes() -> None:
    controls = {chr(code) for code in (*range(0x20), 0x7F)}  # U+0000-U+001F and U+007F

    assert set(FORMULA_PREFIXES) == {"=", "+", "-", "@"} | controls
    assert {"\t", "\r", "\n", "\x00"} <= set(FORMULA_PREFIXES)


@pytest.mark.parametrize("text", ["\x00", "\x01x", "\x1b[31mred", "\x7fdel", "\n=1+1", "\x1f"])
def test_neutralise_quotes_text_starting_with_a_control_character(text: str) -> None:
    assert neutralise_formula(text) == "'" + text
    assert restore_neutralised("'" + text) == text


@pytest.mark.parametrize("text", ["a\x00b", "x\x7f", " \x01", "\x80x", "\u2028x", "'\x80"])
def test_neutralise_leaves_other_characters_alone(text: str) -> None:
    # Only the first character counts; C1 controls and other separators are not prefixes.
    assert neutralise_formula(text) == text
    assert restore_neutralised(text) == text


def test_restore_only_strips_a_quote_before_a_formula_character() -> None:
    assert restore_neutralised("'=x") == "=x"
    assert restore_neutralised("'-5") == "-5"
    assert restore_neutralised("'x") == "'x"
    assert restore_neutralised("'") == "'"


# ---------------------------------------------------------------------------
# Round trips through the readers


def read_back(path: Path, fmt: FileFormat) -> tuple[list[str], list[dict[str, object]]]:
    with open_reader(path, fmt) as reader:
        rows = [row.values for row in reader]
        return reader.columns, rows


def restored(values: dict[str, object]) -> dict[str, object]:
    return {
        key: restore_neutralised(value) if isinstance(value, str) else value
        for key, value in values.items()
    }


def test_csv_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"

    count = write_rows(path, FileFormat.CSV, COLUMNS, ROWS)

    columns, rows = read_back(path, FileFormat.CSV)
    assert count == len(ROWS)
    assert columns == COLUMNS
    expected = [  # readers leave blank cells out
        {
            key: str(value)
            for key, value in zip(COLUMNS, row, strict=True)
            if value not in (None, "")
        }
        for row in ROWS
    ]
    assert [restored(row) for row in rows] == expected
    # Stored neutralised, so a spreadsheet shows the text instead of running it.
    assert rows[1]["name"] == "'" + str(ROWS[1][1])


def test_csv_bytes_follow_rfc_4180(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"

    write_rows(path, FileFormat.CSV, ["a", "b"], [("x, y", 'say "hi"'), ("plain", None)])

    assert path.read_bytes() == b'a,b\r\n"x, y","say ""hi"""\r\nplain,\r\n'


def test_jsonl_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "export.jsonl"
    when = datetime(2024, 5, 17, 9, 30, 5)
    rows = [(*row, when) for row in ROWS]

    count = write_rows(path, FileFormat.JSONL, [*COLUMNS, "at"], rows)

    columns, read = read_back(path, FileFormat.JSONL)
    assert count == len(ROWS)
    assert columns == [*COLUMNS, "at"]
    expected = [
        {
            "id": row[0],
            "name": row[1],  # JSON is not opened by spreadsheets: no neutralising
            "amount": float(row[2]),
            **({} if row[3] is None else {"note": row[3]}),  # readers leave nulls out
            "at": "2024-05-17T09:30:05",
        }
        for row in ROWS
    ]
    assert read == expected


def test_jsonl_is_compact_utf8_one_object_per_line(tmp_path: Path) -> None:
    path = tmp_path / "export.jsonl"

    write_rows(path, FileFormat.JSONL, ["name", "amount"], [("Zoë", Decimal("9.99"))])

    assert path.read_bytes() == '{"name":"Zoë","amount":9.99}\n'.encode()


def test_jsonl_rejects_values_it_cannot_represent(tmp_path: Path) -> None:
    path = tmp_path / "export.jsonl"

    with pytest.raises(TypeError):
        write_rows(path, FileFormat.JSONL, ["blob"], [(b"\x00\x01",)])

    assert list(tmp_path.iterdir()) == []


def test_xlsx_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "export.xlsx"
    when = datetime(2024, 5, 17, 9, 30, 5)
    rows = [(*row, when) for row in ROWS]

    count = write_rows(path, FileFormat.XLSX, [*COLUMNS, "at"], rows)

    columns, read = read_back(path, FileFormat.XLSX)
    assert count == len(ROWS)
    assert columns == [*COLUMNS, "at"]
    expected = [
        {"id": row[0], "name": row[1], "amount": float(row[2]), "note": row[3], "at": when}
        for row in ROWS
    ]
    for values in expected:  # readers leave blank cells out
        if values["note"] is None:
            del values["note"]
    assert [restored(row) for row in read] == expected


CONTROL_CELLS = ["\x00nul", "\x01start", "\x1b[31mred", "\x7fdel"]


def rows_with_control_characters() -> list[tuple[object, ...]]:
    # Mostly ordinary rows, as an export is: the readers take a file in which more than 1%
    # of the characters are control characters for binary data.
    rows: list[tuple[object, ...]] = [
        (n, f"Person {n}", f"person{n}@example.com") for n in range(1, 41)
    ]
    rows[20:20] = [(100 + i, text, f"{text}@x") for i, text in enumerate(CONTROL_CELLS)]
    return rows


def test_csv_export_neutralises_control_characters_and_imports_them_back(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    rows = rows_with_control_characters()

    write_rows(path, FileFormat.CSV, ["id", "name", "email"], rows)

    data = path.read_bytes()
    for text in CONTROL_CELLS:
        assert (
            "\r\n" + str(100 + CONTROL_CELLS.index(text)) + ",'" + text + ",'" + text
        ).encode() in data
    with open_reader(path, FileFormat.CSV) as reader:
        imported = records(list(reader), all_text=True)  # the import's own restoring step
    assert imported == [{"id": str(row[0]), "name": row[1], "email": row[2]} for row in rows]


def test_xlsx_export_neutralises_control_characters_it_can_hold(tmp_path: Path) -> None:
    path = tmp_path / "export.xlsx"
    rows = [("\x7fdel",), ("\tTabbed",), ("\x00nul",), ("\x01=1+1",), ("\x1b\x7f",)]

    write_rows(path, FileFormat.XLSX, ["text"], rows)

    sheet = load_workbook(path).worksheets[0]
    # XML cannot hold U+0000-U+0008, U+000B, U+000C or U+000E-U+001F at all, so they are
    # dropped (as before); what is left is neutralised in turn, so a formula behind one
    # never comes to the front unquoted.
    assert [sheet.cell(row=row, column=1).value for row in range(2, 7)] == [
        "'\x7fdel",
        "'\tTabbed",
        "nul",
        "'=1+1",
        "'\x7f",
    ]
    with open_reader(path, FileFormat.XLSX) as reader:
        imported = records(list(reader), all_text=False)
    assert imported == [
        {"text": "\x7fdel"},
        {"text": "\tTabbed"},
        {"text": "nul"},
        {"text": "=1+1"},
        {"text": "\x7f"},
    ]


def test_xlsx_formulas_are_stored_as_text(tmp_path: Path) -> None:
    path = tmp_path / "export.xlsx"

    write_rows(path, FileFormat.XLSX, ["value"], [("=1+2",), ("-7",), (-7,), ("ok",)])

    sheet = load_workbook(path).worksheets[0]
    cells = [sheet.cell(row=row, column=1) for row in range(2, 6)]
    assert [(cell.value, cell.data_type) for cell in cells] == [
        ("'=1+2", "s"),
        ("'-7", "s"),
        (-7, "n"),  # numbers stay numbers
        ("ok", "s"),
    ]
    assert sheet.title == "data"


def test_xlsx_converts_values_excel_cannot_hold(tmp_path: Path) -> None:
    path = tmp_path / "export.xlsx"
    aware = datetime(2024, 1, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))

    write_rows(path, FileFormat.XLSX, ["text", "at"], [("bell\x07 here", aware)])

    _, rows = read_back(path, FileFormat.XLSX)
    assert rows == [{"text": "bell here", "at": datetime(2024, 1, 1, 10, 0)}]
    assert aware.astimezone(UTC).hour == 10


# ---------------------------------------------------------------------------
# Progress, cancellation and atomic replacement


def numbered_rows(count: int) -> Iterator[Sequence[object]]:
    """A generator, like a database cursor: rows are produced one at a time."""
    for number in range(1, count + 1):
        yield (number, f"name {number}", Decimal(number) / 4, None)


@pytest.mark.parametrize("fmt", list(FileFormat))
def test_on_row_batch_reports_rows_written(tmp_path: Path, fmt: FileFormat) -> None:
    reports: list[int] = []

    count = write_rows(
        tmp_path / f"export.{fmt}",
        fmt,
        COLUMNS,
        numbered_rows(12),
        on_row_batch=reports.append,
        batch_size=5,
    )

    assert count == 12
    assert reports == [5, 10]


@pytest.mark.parametrize("fmt", list(FileFormat))
def test_cancelling_removes_the_partial_file(tmp_path: Path, fmt: FileFormat) -> None:
    path = tmp_path / f"export.{fmt}"

    def cancel_at_ten(written: int) -> None:
        if written >= 10:
            raise Cancelled

    with pytest.raises(Cancelled):
        write_rows(path, fmt, COLUMNS, numbered_rows(50), on_row_batch=cancel_at_ten, batch_size=5)

    assert list(tmp_path.iterdir()) == []


def test_cancelled_xlsx_leaves_no_buffer_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Writers may buffer a sheet in the system temp directory (openpyxl did): none is left.
    buffers = tmp_path / "system-temp"
    buffers.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(buffers))

    def cancel(written: int) -> None:
        raise Cancelled

    with pytest.raises(Cancelled):
        write_rows(
            tmp_path / "export.xlsx",
            FileFormat.XLSX,
            COLUMNS,
            numbered_rows(20),
            on_row_batch=cancel,
            batch_size=5,
        )

    assert list(buffers.iterdir()) == []


@pytest.mark.parametrize("fmt", list(FileFormat))
def test_failed_export_keeps_the_previous_file(tmp_path: Path, fmt: FileFormat) -> None:
    path = tmp_path / f"export.{fmt}"
    path.write_bytes(b"previous export")

    def fail(written: int) -> None:
        raise Cancelled

    with pytest.raises(Cancelled):
        write_rows(path, fmt, COLUMNS, numbered_rows(5), on_row_batch=fail, batch_size=2)

    assert list(tmp_path.iterdir()) == [path]
    assert path.read_bytes() == b"previous export"


@pytest.mark.parametrize("fmt", list(FileFormat))
def test_export_with_no_rows_writes_just_the_header(tmp_path: Path, fmt: FileFormat) -> None:
    path = tmp_path / f"export.{fmt}"

    count = write_rows(path, fmt, COLUMNS, [])

    assert count == 0
    assert list(tmp_path.iterdir()) == [path]
    if fmt is FileFormat.JSONL:
        assert path.read_bytes() == b""
    else:
        columns, rows = read_back(path, fmt)
        assert (columns, rows) == (COLUMNS, [])


def test_batch_size_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        write_rows(tmp_path / "x.csv", FileFormat.CSV, COLUMNS, [], batch_size=0)


def test_jsonl_lines_parse_independently(tmp_path: Path) -> None:
    path = tmp_path / "export.jsonl"

    write_rows(path, FileFormat.JSONL, COLUMNS, numbered_rows(3))

    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["id"] for line in lines] == [1, 2, 3]
