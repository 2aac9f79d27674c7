"""Streaming writers for exports in CSV, JSON Lines and Excel formats.

Rows are written as they arrive, so memory stays flat however large the export.
Output goes to a temporary file beside the target and is renamed into place only
when complete: a failed or cancelled export never leaves a half-written file.
"""

from __future__ import annotations

import csv
import itertools
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, time
from decimal import Decimal
from pathlib import Path

from jobs_ui.engines.formats import FileFormat
from jobs_ui.engines.formulas import FORMULA_PREFIXES, neutralise_formula
from jobs_ui.engines.xlsx_writer import write_xlsx

RowSource = Iterable[Sequence[object]]
RowBatches = Iterable[list[Sequence[object]]]

# Text cells are joined on a character that is not itself a prefix (an empty cell would
# otherwise look like one starting with the separator), and searched once (see _csv_batch).
_CELL_JOIN = "\x80"
_FORMULA_START = re.compile(
    re.escape(_CELL_JOIN) + "[" + re.escape("".join(FORMULA_PREFIXES)) + "]"
)


def write_rows(
    path: Path,
    fmt: FileFormat,
    columns: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    on_row_batch: Callable[[int], None] | None = None,
    batch_size: int = 5000,
) -> int:
    """Write a header and `rows` to `path` in `fmt`, returning the number of rows written.

    `on_row_batch(rows_written_so_far)` is called every `batch_size` rows; if it raises,
    the exception propagates and nothing is left at `path`.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    writers: dict[FileFormat, Callable[[Path, Sequence[str], RowBatches], None]] = {
        FileFormat.CSV: _write_csv,
        FileFormat.JSONL: _write_jsonl,
        FileFormat.XLSX: _write_xlsx,
    }
    counter = _RowCounter(rows, on_row_batch, batch_size)
    with _replaced_on_success(path) as temp:
        writers[fmt](temp, columns, counter)
    return counter.count


class _RowCounter:
    """Passes rows through in lists of `batch_size`, counting them and reporting each list.

    Lists, not single rows: a writer then does its per-row Python work once per list where
    it can (a million-row CSV export spends most of its time there otherwise).
    """

    def __init__(
        self,
        rows: RowSource,
        on_row_batch: Callable[[int], None] | None,
        batch_size: int,
    ) -> None:
        self._rows = rows
        self._on_row_batch = on_row_batch
        self._batch_size = batch_size
        self.count = 0

    def __iter__(self) -> Iterator[list[Sequence[object]]]:
        rows = iter(self._rows)
        while batch := list(itertools.islice(rows, self._batch_size)):
            yield batch
            # Resumed only once the writer has taken the rows, so the count is rows written.
            self.count += len(batch)
            if self._on_row_batch is not None and len(batch) == self._batch_size:
                self._on_row_batch(self.count)


@contextmanager
def _replaced_on_success(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; move it onto `path` only if the block succeeds."""
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    os.close(handle)
    temp = Path(name)
    try:
        yield temp
        os.replace(temp, path)
    except BaseException:
        # BaseException too: task cancellation must not leave the partial file behind.
        temp.unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------------------
# CSV


def _csv_cells(row: Sequence[object]) -> list[object]:
    """Neutralise formula-like strings; csv itself writes None as empty and numbers via str."""
    return [neutralise_formula(value) if isinstance(value, str) else value for value in row]


def _csv_batch(rows: list[Sequence[object]]) -> Iterable[Sequence[object]]:
    """The rows, neutralised where needed; one scan finds whether any cell needs it at all."""
    cells = [value for row in rows for value in row if isinstance(value, str)]
    text = _CELL_JOIN + _CELL_JOIN.join(cells)
    return map(_csv_cells, rows) if _FORMULA_START.search(text) else rows


def _write_csv(temp: Path, columns: Sequence[str], batches: RowBatches) -> None:
    # Plain UTF-8, comma, minimal quoting and CRLF: RFC 4180.
    with temp.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
        writer.writerow(_csv_cells(columns))
        for rows in batches:
            writer.writerows(_csv_batch(rows))


# ---------------------------------------------------------------------------
# JSON Lines


def _json_default(value: object) -> object:
    """Encode the non-JSON types exports contain; anything else is a programming error."""
    if isinstance(value, Decimal):
        # Money with two decimals: the float's repr reads back as the same number.
        return float(value)
    if isinstance(value, date | time):
        return value.isoformat()
    raise TypeError(f"Cannot write a {type(value).__name__} value to JSON Lines")


def _write_jsonl(temp: Path, columns: Sequence[str], batches: RowBatches) -> None:
    # Strings are written as they are: JSON is not opened by spreadsheets.
    keys = list(columns)
    encode = json.JSONEncoder(
        ensure_ascii=False, separators=(",", ":"), default=_json_default
    ).encode
    with temp.open("w", encoding="utf-8", newline="\n") as handle:
        for rows in batches:
            handle.writelines(encode(dict(zip(keys, row, strict=True))) + "\n" for row in rows)


# ---------------------------------------------------------------------------
# XLSX: see xlsx_writer.py


def _write_xlsx(temp: Path, columns: Sequence[str], batches: RowBatches) -> None:
    write_xlsx(temp, columns, batches)
