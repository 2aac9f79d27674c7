"""Tests for the streaming readers in jobs_ui.engines.formats."""

from __future__ import annotations

import codecs
import random
import re
import zipfile
from datetime import datetime
from pathlib import Path

import pytest
from charset_normalizer import from_bytes
from openpyxl import Workbook

from jobs_ui.engines.formats import (
    FileFormat,
    RawRow,
    UnreadableFileError,
    format_from_filename,
    open_reader,
)


def make_file(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / name
    if isinstance(data, str):
        path.write_bytes(data.encode("utf-8"))
    else:
        path.write_bytes(data)
    return path


def read_all(path: Path, fmt: FileFormat) -> tuple[list[str], list[RawRow]]:
    with open_reader(path, fmt) as reader:
        rows = list(reader)
        return reader.columns, rows


def csv_file(tmp_path: Path, data: bytes | str) -> Path:
    return make_file(tmp_path, "upload.csv", data)


def read_csv(tmp_path: Path, data: bytes | str) -> tuple[list[str], list[RawRow]]:
    return read_all(csv_file(tmp_path, data), FileFormat.CSV)


def unreadable_message(path: Path, fmt: FileFormat) -> str:
    with pytest.raises(UnreadableFileError) as caught:
        read_all(path, fmt)
    return str(caught.value)


# ---------------------------------------------------------------------------
# The package's public names


def test_the_package_exports_what_callers_import() -> None:
    import jobs_ui.engines.formats as formats
    from jobs_ui.engines.formats import csv, dispatch, encodings, kinds, rows, zip_guard

    assert formats.FileFormat is kinds.FileFormat
    assert formats.format_from_filename is kinds.format_from_filename
    assert formats.open_reader is dispatch.open_reader
    assert formats.UnreadableFileError is rows.UnreadableFileError
    assert formats.RawRow is rows.RawRow
    assert formats.RowReader is rows.RowReader
    assert formats.NamesFor is rows.NamesFor
    assert formats.SAMPLE_SIZE == encodings.SAMPLE_SIZE == 64 * 1024
    assert formats.CSV_DELIMITERS == csv.CSV_DELIMITERS == ",;\t|"
    assert formats.MAX_UNPACKED_XML_BYTES == zip_guard.MAX_UNPACKED_XML_BYTES == 512 * 1024 * 1024
    assert all(hasattr(formats, name) for name in formats.__all__)


def test_the_csv_module_reads_with_the_standard_library_csv() -> None:
    import csv as stdlib_csv

    from jobs_ui.engines.formats import csv

    assert csv.csv is stdlib_csv


# ---------------------------------------------------------------------------
# format_from_filename


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("people.csv", FileFormat.CSV),
        ("PEOPLE.TSV", FileFormat.CSV),
        ("export.txt", FileFormat.CSV),
        ("events.jsonl", FileFormat.JSONL),
        ("events.NDJSON", FileFormat.JSONL),
        ("book.Xlsx", FileFormat.XLSX),
        ("old.xls", None),
        ("data.json", None),
        ("no_extension", None),
    ],
)
def test_format_from_filename(filename: str, expected: FileFormat | None) -> None:
    assert format_from_filename(filename) == expected


# ---------------------------------------------------------------------------
# CSV: structure


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_csv_detects_delimiter(tmp_path: Path, delimiter: str) -> None:
    lines = [
        ["name", "email", "city"],
        ["Ann", "ann@example.com", "Oslo"],
        ["Bob", "b@x.io", "Rome"],
    ]
    text = "".join(delimiter.join(line) + "\n" for line in lines)

    columns, rows = read_csv(tmp_path, text)

    assert columns == ["name", "email", "city"]
    assert [row.values for row in rows] == [
        dict(zip(lines[0], line, strict=True)) for line in lines[1:]
    ]
    assert all(row.problem is None for row in rows)


def test_csv_semicolon_file_with_commas_in_values(tmp_path: Path) -> None:
    text = "name;amount\nSmith, John;1,50\nDoe, Jane;2,75\n"

    columns, rows = read_csv(tmp_path, text)

    assert columns == ["name", "amount"]
    assert rows[0].values == {"name": "Smith, John", "amount": "1,50"}


def test_csv_delimiter_missing_from_header_is_not_trusted(tmp_path: Path) -> None:
    # csv.Sniffer picks "," here because of the quoted lists inside the values.
    text = "name;quote\nAnn;'hi', 'there'\nBob;'yes', 'no'\n"

    columns, rows = read_csv(tmp_path, text)

    assert columns == ["name", "quote"]
    assert rows[0].values == {"name": "Ann", "quote": "'hi', 'there'"}


def test_csv_single_column(tmp_path: Path) -> None:
    columns, rows = read_csv(tmp_path, "email\na@example.com\nb@example.com\n")

    assert columns == ["email"]
    assert [row.values["email"] for row in rows] == ["a@example.com", "b@example.com"]


def test_csv_quoted_fields_keep_newlines_and_delimiters(tmp_path: Path) -> None:
    text = 'id,note\r\n1,"line one\r\nline two, with a comma"\r\n2,"say ""hi"""\r\n3,plain\r\n'

    _, rows = read_csv(tmp_path, text)

    assert [row.values["note"] for row in rows] == [
        "line one\r\nline two, with a comma",
        'say "hi"',
        "plain",
    ]
    # Records are counted, not physical lines: the embedded newline does not shift numbers.
    assert [row.number for row in rows] == [2, 3, 4]


def test_csv_values_are_not_stripped_but_header_names_are(tmp_path: Path) -> None:
    columns, rows = read_csv(tmp_path, " name , age\n  Ann  ,30 \n")

    assert columns == ["name", "age"]
    assert rows[0].values == {"name": "  Ann  ", "age": "30 "}


def test_csv_header_only_yields_no_rows(tmp_path: Path) -> None:
    columns, rows = read_csv(tmp_path, "name,email\r\n")

    assert columns == ["name", "email"]
    assert rows == []


def test_csv_ragged_rows_report_field_counts(tmp_path: Path) -> None:
    text = "a,b,c,d\n1,2,3,4\n1,2,3,4,5\n1,2\n7\n"

    _, rows = read_csv(tmp_path, text)

    assert [(row.number, row.problem) for row in rows] == [
        (2, None),
        (3, "Row has 5 fields but the header has 4 columns."),
        (4, "Row has 2 fields but the header has 4 columns."),
        (5, "Row has 1 field but the header has 4 columns."),
    ]
    assert rows[2].values == {"a": "1", "b": "2"}


def test_csv_blank_lines_are_skipped_but_keep_spreadsheet_numbering(tmp_path: Path) -> None:
    # Blank lines still occupy a row when the file is opened in a spreadsheet, so the
    # numbers shown to people must count them.
    text = "\nname,age\n\nAnn,30\n   \n\r\nBob,40\n\n"

    columns, rows = read_csv(tmp_path, text)

    assert columns == ["name", "age"]
    assert [(row.number, row.values["name"]) for row in rows] == [(4, "Ann"), (7, "Bob")]


def test_csv_duplicate_header_names_are_reported(tmp_path: Path) -> None:
    path = csv_file(tmp_path, "email,name,Email,name,email\n1,2,3,4,5\n")

    message = unreadable_message(path, FileFormat.CSV)

    assert '"email"' in message
    assert '"name"' in message
    assert '"Email"' not in message


def test_csv_empty_header_name_is_reported(tmp_path: Path) -> None:
    path = csv_file(tmp_path, "name,,city\nAnn,x,Oslo\n")

    assert "Column 2" in unreadable_message(path, FileFormat.CSV)


def test_csv_unclosed_quote_is_unreadable(tmp_path: Path) -> None:
    # The open quote swallows the rest of the file until csv's field size limit stops it.
    rows = "".join(f"{i},row {i}\n" for i in range(20_000))
    path = csv_file(tmp_path, 'id,note\n1,"never closed\n' + rows)

    assert "quote" in unreadable_message(path, FileFormat.CSV)


# ---------------------------------------------------------------------------
# CSV: encodings


@pytest.mark.parametrize("bom", [codecs.BOM_UTF8, codecs.BOM_UTF8 * 2], ids=["single", "doubled"])
def test_csv_utf8_bom_is_stripped(tmp_path: Path, bom: bytes) -> None:
    columns, rows = read_csv(tmp_path, bom + "name,city\nZoë,Zürich\n".encode())

    assert columns == ["name", "city"]
    assert rows[0].values == {"name": "Zoë", "city": "Zürich"}


WESTERN_NAMES = ["José Núñez", "François Dîner", "Åsa Ångström", "Jürgen Groß", "Renée Løkke"]


@pytest.mark.parametrize("repeat", [1, 200], ids=["short", "long"])
@pytest.mark.parametrize("encoding", ["cp1252", "latin-1"])
def test_csv_western_legacy_encodings(tmp_path: Path, encoding: str, repeat: int) -> None:
    lines = ["id;name;price"]
    lines += [f"{i};{name};€3" for i in range(repeat) for name in WESTERN_NAMES]
    if encoding == "latin-1":
        lines = [line.replace("€", "EUR ") for line in lines]
    data = ("\r\n".join(lines) + "\r\n").encode(encoding)

    columns, rows = read_csv(tmp_path, data)

    assert columns == ["id", "name", "price"]
    assert [row.values["name"] for row in rows[:5]] == WESTERN_NAMES
    assert len(rows) == repeat * len(WESTERN_NAMES)


@pytest.mark.parametrize(
    "text",
    [
        "name\nJosé\n",
        "item,price\nCafé crème,€3.50\nNaïve tea,€2.00\n",
        "name;city\nJosé Müller;Zürich\nFrançoise Dîner;Orléans\nRené Åström;Malmö\n",
    ],
    ids=["tiny", "euro", "nordic"],
)
def test_csv_small_windows_1252_files(tmp_path: Path, text: str) -> None:
    # Samples on which charset-normalizer alone picks cp1006, cp775 or cp1250.
    columns, rows = read_csv(tmp_path, text.encode("cp1252"))

    lines = [line.split(text[4]) for line in text.splitlines()]
    assert columns == lines[0]
    assert [list(row.values.values()) for row in rows] == lines[1:]


def test_csv_cyrillic_windows_1251(tmp_path: Path) -> None:
    # Western text wins ties, but real evidence for another script must still be honoured.
    names = ["Иван Петров", "Мария Иванова", "Сергей Смирнов", "Ольга Кузнецова"]
    text = "id,имя,город\n" + "".join(f"{i},{name},Москва\n" for i, name in enumerate(names))

    columns, rows = read_csv(tmp_path, text.encode("cp1251"))

    assert columns == ["id", "имя", "город"]
    assert [row.values["имя"] for row in rows] == names


def test_csv_utf16_with_bom(tmp_path: Path) -> None:
    columns, rows = read_csv(tmp_path, "name\tcity\r\nZoë\tZürich\r\n".encode("utf-16"))

    assert columns == ["name", "city"]
    assert rows[0].values == {"name": "Zoë", "city": "Zürich"}


def test_csv_utf16_without_bom(tmp_path: Path) -> None:
    data = "name,city\r\nZoë,Zürich\r\nAnn,Oslo\r\n".encode("utf-16-le")
    best = from_bytes(data).best()
    if best is None or not best.encoding.startswith("utf_16"):
        pytest.skip("this charset-normalizer version does not recognise BOM-less UTF-16")

    columns, rows = read_csv(tmp_path, data)

    assert columns == ["name", "city"]
    assert rows[0].values == {"name": "Zoë", "city": "Zürich"}


def test_csv_invalid_utf8_after_the_sample_is_unreadable(tmp_path: Path) -> None:
    head = "id,name\n" + "".join(f"{i},Zoë number {i}\n" for i in range(10_000))
    bad_offset = len(head.encode("utf-8")) + len("10000,Ren")
    path = csv_file(tmp_path, head.encode("utf-8") + "10000,René\n".encode("cp1252"))

    with open_reader(path, FileFormat.CSV) as reader, pytest.raises(UnreadableFileError) as caught:
        for _ in reader:
            pass

    message = str(caught.value)
    assert "not valid UTF-8" in message
    match = re.search(r"near byte ([\d,]+)", message)
    assert match is not None
    assert int(match.group(1).replace(",", "")) == bad_offset


# ---------------------------------------------------------------------------
# CSV: not text / empty


def test_csv_binary_with_nul_bytes_is_not_text(tmp_path: Path) -> None:
    data = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + random.Random(1).randbytes(4000)

    message = unreadable_message(csv_file(tmp_path, data), FileFormat.CSV)

    assert message.startswith("This file is not a text file")


def test_csv_binary_without_nul_bytes_is_not_text(tmp_path: Path) -> None:
    # Junk that still decodes as Windows-1252: no NUL and none of its five unused bytes.
    unused = {0x00, 0x81, 0x8D, 0x8F, 0x90, 0x9D}
    data = bytes(byte for byte in random.Random(2).randbytes(5000) if byte not in unused)

    message = unreadable_message(csv_file(tmp_path, data), FileFormat.CSV)

    assert message.startswith("This file is not a text file")


@pytest.mark.parametrize("data", [b"", b"  \r\n\n\t\n", codecs.BOM_UTF8, codecs.BOM_UTF8 + b"\n"])
def test_csv_empty_file(tmp_path: Path, data: bytes) -> None:
    assert unreadable_message(csv_file(tmp_path, data), FileFormat.CSV) == "The file is empty."


# ---------------------------------------------------------------------------
# Progress


def assert_progress(path: Path, fmt: FileFormat) -> None:
    """fraction_read never goes backwards, starts well below 1 and ends at 1."""
    with open_reader(path, fmt) as reader:
        fractions = [reader.fraction_read()]
        for _ in reader:
            fractions.append(reader.fraction_read())
        fractions.append(reader.fraction_read())
    assert fractions == sorted(fractions)
    assert fractions[1] < 0.5
    assert fractions[-1] == pytest.approx(1.0)
    assert all(0.0 <= fraction <= 1.0 for fraction in fractions)


def test_csv_fraction_read(tmp_path: Path) -> None:
    text = "id,name\n" + "".join(f"{i},name {i}\n" for i in range(20_000))

    assert_progress(csv_file(tmp_path, text), FileFormat.CSV)


def test_jsonl_fraction_read(tmp_path: Path) -> None:
    text = "".join(f'{{"id":{i},"name":"name {i}"}}\n' for i in range(20_000))

    assert_progress(make_file(tmp_path, "big.jsonl", text), FileFormat.JSONL)


def test_xlsx_fraction_read(tmp_path: Path) -> None:
    path = make_xlsx(tmp_path, [["id", "name"], *([i, f"name {i}"] for i in range(500))])

    assert_progress(path, FileFormat.XLSX)


# ---------------------------------------------------------------------------
# JSON Lines


def test_jsonl_good_and_bad_lines(tmp_path: Path) -> None:
    text = (
        '{"a": 1, "b": "x"}\n'
        "\n"
        "not json\n"
        "[1, 2]\n"
        '{"a": 2.5, "c": null, "d": true, "nested": {"k": [1]}}\n'
        '{"b": "y"}'  # no newline at the end of the file
    )
    path = make_file(tmp_path, "events.jsonl", text)

    with open_reader(path, FileFormat.JSONL) as reader:
        columns_before = reader.columns
        rows = list(reader)
        columns_after = reader.columns

    assert columns_before == ["a", "b"]
    assert columns_after == ["a", "b", "c", "d", "nested"]
    assert [row.number for row in rows] == [1, 3, 4, 5, 6]
    assert rows[0] == RawRow(1, {"a": 1, "b": "x"})
    assert rows[1].problem is not None
    assert rows[1].problem.startswith("Line is not valid JSON: ")
    assert rows[1].values == {}
    assert rows[2] == RawRow(4, {}, "Line is not a JSON object.")
    assert rows[3].values == {"a": 2.5, "d": True, "nested": {"k": [1]}}  # null: left out
    assert rows[4] == RawRow(6, {"b": "y"})


def test_jsonl_bom_is_tolerated(tmp_path: Path) -> None:
    path = make_file(tmp_path, "bom.jsonl", codecs.BOM_UTF8 + '{"name": "Zoë"}\r\n'.encode())

    columns, rows = read_all(path, FileFormat.JSONL)

    assert columns == ["name"]
    assert rows == [RawRow(1, {"name": "Zoë"})]


@pytest.mark.parametrize("data", [b"", b"\n \n", codecs.BOM_UTF8])
def test_jsonl_empty_file(tmp_path: Path, data: bytes) -> None:
    path = make_file(tmp_path, "empty.jsonl", data)

    assert unreadable_message(path, FileFormat.JSONL) == "The file is empty."


def test_jsonl_binary_is_not_text(tmp_path: Path) -> None:
    path = make_file(tmp_path, "junk.jsonl", b"PK\x03\x04\x14\x00\x00\x00" + bytes(200))

    assert unreadable_message(path, FileFormat.JSONL).startswith("This file is not a text file")


def test_jsonl_wrong_encoding_is_unreadable(tmp_path: Path) -> None:
    path = make_file(tmp_path, "latin.jsonl", '{"name": "René"}\n'.encode("cp1252"))

    assert "not valid UTF-8" in unreadable_message(path, FileFormat.JSONL)


def test_jsonl_wrong_encoding_after_the_sample_is_unreadable(tmp_path: Path) -> None:
    head = "".join(f'{{"id": {i}}}\n' for i in range(10_000)).encode()
    path = make_file(tmp_path, "mixed.jsonl", head + '{"name": "René"}\n'.encode("cp1252"))

    with open_reader(path, FileFormat.JSONL) as reader, pytest.raises(UnreadableFileError) as err:
        for _ in reader:
            pass

    assert "not valid UTF-8" in str(err.value)


# ---------------------------------------------------------------------------
# XLSX


def make_xlsx(tmp_path: Path, rows: list[list[object]], name: str = "book.xlsx") -> Path:
    """A workbook whose first sheet holds `rows` from A1; None cells are left empty."""
    workbook = Workbook()
    sheet = workbook.active
    for row_index, row in enumerate(rows, start=1):
        for column_index, value in enumerate(row, start=1):
            if value is not None:
                sheet.cell(row=row_index, column=column_index, value=value)
    path = tmp_path / name
    workbook.save(path)
    return path


def test_xlsx_reads_typed_values_with_sheet_row_numbers(tmp_path: Path) -> None:
    when = datetime(2024, 5, 17, 9, 30)
    path = make_xlsx(
        tmp_path,
        [
            [],  # the header need not be on row 1
            [" id ", "name", "amount", "joined"],
            [1, "Ann", 12.5, when],
            [],  # blank row in the middle
            [2, "Bob"],  # trailing cells missing
            [3, "Cy", 1, None, "surplus"],  # a value beyond the header
            [None, None, None, None, None],
        ],
    )

    columns, rows = read_all(path, FileFormat.XLSX)

    assert columns == ["id", "name", "amount", "joined"]
    assert rows[0] == RawRow(3, {"id": 1, "name": "Ann", "amount": 12.5, "joined": when})
    assert rows[1] == RawRow(5, {"id": 2, "name": "Bob"})  # blank cells are left out
    assert rows[2].number == 6
    assert rows[2].problem == "Row has a value in column E, beyond the header's 4 columns."
    assert len(rows) == 3


def test_xlsx_trailing_formatted_rows_are_skipped(tmp_path: Path) -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["name", "age"])
    sheet.append(["Ann", 30])
    # Styled but empty cells make openpyxl write rows and widen the sheet's dimension.
    sheet["A10"].number_format = "0.00"
    sheet["F10"].number_format = "0.00"
    path = tmp_path / "styled.xlsx"
    workbook.save(path)

    columns, rows = read_all(path, FileFormat.XLSX)

    assert columns == ["name", "age"]
    assert rows == [RawRow(2, {"name": "Ann", "age": 30})]


def test_xlsx_wrong_stored_size_does_not_cut_rows(tmp_path: Path) -> None:
    built = make_xlsx(tmp_path, [["name", "age"], ["Ann", 30], ["Bob", 40]], name="built.xlsx")
    path = tmp_path / "undersized.xlsx"
    # Some tools write a sheet size of just A1 whatever the content.
    with zipfile.ZipFile(built) as source, zipfile.ZipFile(path, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1"', data)
            target.writestr(item, data)

    columns, rows = read_all(path, FileFormat.XLSX)

    assert columns == ["name", "age"]
    assert [row.values for row in rows] == [{"name": "Ann", "age": 30}, {"name": "Bob", "age": 40}]


def test_xlsx_header_only_yields_no_rows(tmp_path: Path) -> None:
    columns, rows = read_all(make_xlsx(tmp_path, [["name", "age"]]), FileFormat.XLSX)

    assert columns == ["name", "age"]
    assert rows == []


def test_xlsx_duplicate_header_is_reported(tmp_path: Path) -> None:
    path = make_xlsx(tmp_path, [["name", "name"], ["a", "b"]])

    assert '"name"' in unreadable_message(path, FileFormat.XLSX)


def test_xlsx_empty_sheet(tmp_path: Path) -> None:
    path = make_xlsx(tmp_path, [])

    assert unreadable_message(path, FileFormat.XLSX) == "The file is empty."


def test_xlsx_upload_stored_under_another_name(tmp_path: Path) -> None:
    path = make_xlsx(tmp_path, [["name"], ["Ann"]], name="upload-1234.bin")

    _, rows = read_all(path, FileFormat.XLSX)

    assert rows == [RawRow(2, {"name": "Ann"})]


def test_xlsx_not_a_zip(tmp_path: Path) -> None:
    path = make_file(tmp_path, "fake.xlsx", "name,age\nAnn,30\n")

    message = unreadable_message(path, FileFormat.XLSX)

    assert message == "This file is not a valid Excel (.xlsx) workbook."


def test_xlsx_zip_without_a_workbook(tmp_path: Path) -> None:
    path = tmp_path / "other.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello.txt", "not a workbook")

    message = unreadable_message(path, FileFormat.XLSX)

    assert message == "This file is not a valid Excel (.xlsx) workbook."


# ---------------------------------------------------------------------------
# Renaming: rows keyed by the caller's names for the columns


def test_rename_keys_rows_by_the_callers_names_and_drops_the_rest(tmp_path: Path) -> None:
    path = csv_file(tmp_path, "E-Mail,Full Name,Notes\na@x.io,Ann,hi\nb@x.io,,\n")
    asked: list[list[str]] = []

    def names_for(headers):
        asked.append(list(headers))
        return {"E-Mail": "email", "Full Name": "name"}

    with open_reader(path, FileFormat.CSV) as reader:
        reader.rename(names_for)
        rows = list(reader)

    assert asked == [["E-Mail", "Full Name", "Notes"]]
    assert [row.values for row in rows] == [{"email": "a@x.io", "name": "Ann"}, {"email": "b@x.io"}]


def test_rename_of_json_lines_asks_once_per_key_set(tmp_path: Path) -> None:
    lines = ['{"Name": "Ann", "x": 1}', '{"Name": "Bo", "x": 2}', '{"x": 3, "NAME": null}']
    path = make_file(tmp_path, "rows.jsonl", "\n".join(lines) + "\n")
    asked: list[tuple[str, ...]] = []

    def names_for(keys):
        asked.append(tuple(keys))
        return {key: key.lower() for key in keys if key.lower() == "name"}

    with open_reader(path, FileFormat.JSONL) as reader:
        reader.rename(names_for)
        rows = [row.values for row in reader]

    assert asked == [("Name", "x"), ("x", "NAME")]
    assert rows == [{"name": "Ann"}, {"name": "Bo"}, {}]


def test_rename_of_a_sheet_keeps_typed_values(tmp_path: Path) -> None:
    path = make_xlsx(tmp_path, [["Stock", "SKU", "Other"], [0, "A-1", "x"], [None, "B-2"]])

    with open_reader(path, FileFormat.XLSX) as reader:
        reader.rename(lambda _headers: {"SKU": "sku", "Stock": "stock"})
        rows = [row.values for row in reader]

    assert rows == [{"stock": 0, "sku": "A-1"}, {"sku": "B-2"}]  # 0 is a value, not a blank
