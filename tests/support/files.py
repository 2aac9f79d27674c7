"""Factories for import files in every supported format."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from openpyxl import Workbook

# A mix the import must sort out: 3 good rows, 2 invalid, 1 duplicate of an earlier row.
CONTACT_HEADER = ["Name", " EMAIL ", "company", "Phone"]
CONTACT_ROWS: list[list[Any]] = [
    ["Ada Lovelace", "ada@example.com", "Analytical", "+44 20 7946 0000"],
    ["Grace Hopper", "grace@example.com", "Navy", ""],
    ["No Email", "", "Nowhere", ""],
    ["Bad Email", "not-an-email", "", ""],
    ["Ada Again", "ADA@example.com", "Copy", ""],
    ["Alan Turing", "alan@example.com", '=HYPERLINK("x")', "-1"],
]
EXPECTED_GOOD = {"ada@example.com", "grace@example.com", "alan@example.com"}


def write_contacts(path: Path, rows: Sequence[Sequence[Any]] = CONTACT_ROWS) -> Path:
    """Write contacts in the format the file's extension names."""
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        keys = [header.strip().lower() for header in CONTACT_HEADER]
        lines = [json.dumps(dict(zip(keys, row, strict=True))) for row in rows]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    elif suffix == ".xlsx":
        book = Workbook()
        sheet = book.active
        sheet.append(CONTACT_HEADER)
        for row in rows:
            sheet.append(list(row))
        book.save(path)
    else:
        delimiter = "\t" if suffix == ".tsv" else ","
        lines = [delimiter.join(CONTACT_HEADER)]
        lines += [delimiter.join(_quote(str(cell), delimiter) for cell in row) for row in rows]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _quote(cell: str, delimiter: str) -> str:
    if any(ch in cell for ch in (delimiter, '"', "\n")):
        return '"' + cell.replace('"', '""') + '"'
    return cell


def contacts_csv(path: Path, count: int, *, start: int = 0) -> Path:
    """A valid contacts CSV of `count` rows."""
    with path.open("w", encoding="utf-8") as handle:
        handle.write("name,email,company,phone\n")
        for number in range(start, start + count):
            handle.write(f"Person {number},person{number}@example.com,Company {number % 50},\n")
    return path
