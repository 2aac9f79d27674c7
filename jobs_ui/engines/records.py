"""From a file's rows to the records a dataset's model validates.

A record maps dataset fields to cell values. The reader already keys each row by field
(`RowReader.rename`, through the import's column mapping) and leaves out empty cells; two
rules remain:
- a cell holding only spaces is blank too, and left out like an empty one, so the model's
  default applies and a required field reads "is required";
- a cell our own export neutralised ("'=1+1", so a spreadsheet would not run it) gets its
  text back ("=1+1"), so an exported file imports unchanged.

A text with a NUL character makes its row one to skip, with that reason.

Few rows need any of this. For a batch of text rows one scan of the joined cells tells whether any
cell starts with a quote or is all spaces; when none does, the rows are the records as they
are, with no per-cell Python work. That keeps a million-row CSV fast.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, cast

from jobs_ui.datasets import Dataset
from jobs_ui.engines.formats import FileFormat, RawRow, RowReader
from jobs_ui.engines.formulas import restore_neutralised
from jobs_ui.engines.mapping import (
    FieldMapping,
    MappingError,
    checked_mapping,
    columns_to_fields,
    suggest_mapping,
)
from jobs_ui.engines.modes import ImportMode

_CELL_SEPARATOR = "\x1f"  # the ASCII unit separator: cells are joined on it for one scan
# A cell that starts with a quote, or holds only whitespace, somewhere in the joined cells.
_NEEDS_CARE = re.compile(r"\x1f(?:'|\s+(?=\x1f|\Z))")
# A NUL anywhere needs care too (no database column of text can hold one: PostgreSQL refuses
# it). Looked for apart: in the pattern above, as an alternative, it made the scan 4x slower.
_NUL = "\x00"


class ImportFileError(Exception):
    """The file as a whole cannot be imported; the message says why, for a person."""


def key_rows_by_field(
    reader: RowReader,
    file_format: FileFormat,
    dataset: Dataset,
    mapping: FieldMapping | None,
    mode: ImportMode = ImportMode.INSERT,
) -> FieldMapping:
    """Make `reader` key its rows by dataset field, through `mapping` (field -> column; None:
    the one `suggest_mapping` finds). Returns the mapping used. A file with a header row
    must give every required field a column (ImportFileError otherwise); each JSON line
    names its own keys, so a line without a required one is a row to skip."""
    if file_format is FileFormat.JSONL:
        chosen = mapping or suggest_mapping(reader.columns, dataset)
        renaming = columns_to_fields(chosen)
        if mapping is None:  # each line's own keys, matched as its first line's were
            reader.rename(lambda keys: columns_to_fields(suggest_mapping(keys, dataset)))
        else:
            reader.rename(lambda _keys: renaming)
        return chosen
    try:
        chosen = checked_mapping(
            mapping if mapping is not None else suggest_mapping(reader.columns, dataset),
            reader.columns,
            dataset,
            suggested=mapping is None,
            mode=mode,
        )
    except MappingError as error:
        raise ImportFileError(str(error)) from None
    renaming = columns_to_fields(chosen)
    reader.rename(lambda _header: renaming)
    return chosen


def records(rows: Sequence[RawRow], *, all_text: bool) -> list[dict[str, Any]]:
    """One record per row (rows keyed by field). `all_text`: every cell is a str (CSV)."""
    if all_text and not _needs_care(rows):
        return [row.values for row in rows]
    return [_cleaned(row) for row in rows]


def _needs_care(rows: Sequence[RawRow]) -> bool:
    # Called for all-text rows only (CSV), whose cells are all str: RawRow types its values
    # as object because other formats' rows hold numbers, dates... too.
    cells = cast("list[str]", [cell for row in rows for cell in row.values.values()])
    joined = _CELL_SEPARATOR + _CELL_SEPARATOR.join(cells)
    return _NUL in joined or _NEEDS_CARE.search(joined) is not None


def _cleaned(row: RawRow) -> dict[str, Any]:
    """Both rules, cell by cell; a text with a NUL makes the row one to skip, the same on
    every database (SQLite would store it, PostgreSQL would fail the whole import)."""
    record: dict[str, Any] = {}
    for field, value in row.values.items():
        if isinstance(value, str):
            if value.isspace():
                continue
            if value[:1] == "'":
                value = restore_neutralised(value)
            if _NUL in value and row.problem is None:
                row.problem = f"{field}: contains a NUL character, which cannot be stored"
        record[field] = value
    return record
