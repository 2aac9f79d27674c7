"""Files to throw at the readers: near-valid ones (a header, quoting, encodings, odd
values, a workbook's XML) and the same broken at random (bytes flipped, cut, spliced)."""

from __future__ import annotations

import io
import json
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from jobs_ui.engines.xlsx_writer import write_xlsx

COLUMNS = ["name", "email", "company", "phone"]

cell_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", " ", '"', '""', "a,b", "a;b", "\t", "\r\n", "\n", "=1+1", "\ufeff"]),
    st.from_regex(r"[a-z]{1,8}@[a-z]{1,8}\.(com|org)", fullmatch=True),
)
header_names = st.one_of(
    # Half the files have the dataset's own columns (so rows get as far as being saved).
    st.permutations(COLUMNS),
    st.lists(
        st.one_of(
            st.sampled_from([*COLUMNS, "Name", "E-mail", " email ", ""]), st.text(max_size=12)
        ),
        min_size=0,
        max_size=8,
    ),
)
email = st.from_regex(r"[a-z]{1,8}@[a-z]{1,8}\.(com|org)", fullmatch=True)


@st.composite
def broken(draw: st.DrawFn, data: bytes) -> bytes:
    """`data` with a few random edits: a byte flipped, a cut, a piece spliced in."""
    edited = bytearray(data)
    for _ in range(draw(st.integers(0, 4))):
        if not edited:
            break
        at = draw(st.integers(0, len(edited) - 1))
        edit = draw(st.sampled_from(["flip", "cut", "splice", "truncate"]))
        if edit == "flip":
            edited[at] ^= draw(st.integers(1, 255))
        elif edit == "cut":
            del edited[at : at + draw(st.integers(1, 64))]
        elif edit == "splice":
            edited[at:at] = draw(st.binary(min_size=1, max_size=64))
        else:
            del edited[at:]
    return bytes(edited)


def _maybe_broken(files: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    return st.one_of(files, files.flatmap(broken), st.binary(max_size=4096))


@st.composite
def _csv_text(draw: st.DrawFn) -> bytes:
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    header = draw(header_names)
    plausible = st.lists(st.one_of(email, cell_text), min_size=len(header), max_size=len(header))
    row = st.one_of(plausible, st.lists(cell_text, max_size=len(header) + 2))
    rows = draw(st.lists(row, max_size=12))

    def line(cells: list[str]) -> str:
        quoted = draw(st.booleans())
        if quoted:
            return delimiter.join('"' + cell.replace('"', '""') + '"' for cell in cells)
        return delimiter.join(cells)

    text = "\r\n".join(line(cells) for cells in [header, *rows])
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "latin-1", "cp1252"]))
    return text.encode(encoding, errors="replace")


csv_files = _maybe_broken(_csv_text())

json_values: st.SearchStrategy[Any] = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False),
        cell_text,
    ),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def _jsonl_text(draw: st.DrawFn) -> bytes:
    keys = st.one_of(st.sampled_from(COLUMNS), st.text(max_size=10))
    lines = []
    for _ in range(draw(st.integers(0, 12))):
        kinds = ["contact", "contact", "object", "object", "other", "garbage", "blank"]
        kind = draw(st.sampled_from(kinds))
        if kind == "contact":  # the dataset's fields, plausible values
            values = {"name": draw(cell_text), "email": draw(email)}
            values |= draw(st.dictionaries(st.sampled_from(COLUMNS), json_values, max_size=2))
            lines.append(json.dumps(values))
        elif kind == "object":
            lines.append(json.dumps(draw(st.dictionaries(keys, json_values, max_size=6))))
        elif kind == "other":
            lines.append(json.dumps(draw(json_values)))
        elif kind == "garbage":
            lines.append(draw(st.text(max_size=30)))
        else:
            lines.append("")
    return "\n".join(lines).encode(draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16"])))


jsonl_files = _maybe_broken(_jsonl_text())

xlsx_values = st.one_of(
    st.none(),
    cell_text,
    st.integers(-(2**53), 2**53),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.datetimes(),
    st.dates(),
)


def _workbook(columns: list[str], rows: list[tuple[Any, ...]]) -> bytes:
    """A workbook as the app writes it, as bytes."""
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "written.xlsx"
        write_xlsx(path, columns, [rows])
        return path.read_bytes()


@st.composite
def _written_workbook(draw: st.DrawFn) -> bytes:
    columns = draw(st.lists(st.sampled_from(COLUMNS) | st.text(max_size=8), min_size=1, max_size=6))
    rows = draw(st.lists(st.tuples(*[xlsx_values] * len(columns)), max_size=10))
    return _workbook(columns, rows)


SHEET_PIECES = [
    '<row r="1">', "</row>", '<row r="1048577">', '<row r="0">', '<row r="-3">', "<row>",
    '<c r="A1" t="s"><v>0</v></c>', '<c r="B1" t="s"><v>99999</v></c>',
    '<c r="XFD1048576"><v>1</v></c>', '<c r="A2" t="inlineStr"><is><t>x</t></is></c>',
    '<c r="A2" t="b"><v>2</v></c>', '<c r="A3"><v>not a number</v></c>',
    '<c r="A4" t="e"><v>#N/A</v></c>', '<c r="ZZZZ9"><v>1</v></c>', "<c>", "</c>",
    '<c r="A5" t="str"><v>text</v></c>', '<c r="A6" s="99"><v>44000</v></c>',
    '<c r="C1" t="inlineStr"><is><t>email</t></is></c>', '<f>SUM(A1:A9)</f>',
    "&amp;", "&bogus;", "<![CDATA[x]]>", "<!-- c -->", "\x00",
]  # fmt: skip


@st.composite
def _crafted_workbook(draw: st.DrawFn) -> bytes:
    """A workbook package whose sheet (and shared strings) are assembled from pieces."""
    body = "".join(draw(st.lists(st.sampled_from(SHEET_PIECES), max_size=30)))
    sheet = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f"<sheetData>{body}</sheetData></worksheet>"
    )
    strings = "".join(
        f"<si><t>{name}</t></si>" for name in draw(st.lists(st.sampled_from(COLUMNS)))
    )
    template = zipfile.ZipFile(io.BytesIO(_workbook(["name"], [])))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as package:
        for name in template.namelist():
            content = template.read(name)
            if name == "xl/worksheets/sheet1.xml":
                content = sheet.encode()
            package.writestr(name, content)
        if draw(st.booleans()):
            package.writestr(
                "xl/sharedStrings.xml",
                '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                f"{strings}</sst>",
            )
    return out.getvalue()


xlsx_files = _maybe_broken(st.one_of(_written_workbook(), _crafted_workbook()))

FILES = {"csv": csv_files, "jsonl": jsonl_files, "xlsx": xlsx_files}
