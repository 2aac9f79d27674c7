"""CSV: delimited text with a header row, in any common encoding."""

from __future__ import annotations

import codecs
import csv
import io
import operator
from collections.abc import Callable, Iterator, Sequence
from itertools import compress
from pathlib import Path

from jobs_ui.engines.formats.base import ByteProgress, ReaderBase, check_header, plural
from jobs_ui.engines.formats.encodings import (
    check_text_sample,
    decode_error_message,
    decode_sample,
    detect_encoding,
    read_sample,
)
from jobs_ui.engines.formats.rows import EMPTY, RawRow, UnreadableFileError
from jobs_ui.engines.limits import BoundedText, ContentTooLarge, FileLimits

CSV_DELIMITERS = ",;\t|"
"""Delimiters we recognise, in order of preference when the evidence is tied."""


def _picker(positions: list[int]) -> Callable[[list[str]], Sequence[str]]:
    """The cells at `positions` of a row, as a tuple (itemgetter alone unpacks a single one)."""
    if len(positions) == 1:
        (only,) = positions
        return lambda fields: (fields[only],)
    return operator.itemgetter(*positions)


def _field_count_problem(found: int, expected: int, max_columns: int) -> str:
    if found > max_columns:
        return f"Row has {found:,} fields, more than the {max_columns:,} this app reads."
    return f"Row has {plural(found, 'field')} but the header has {plural(expected, 'column')}."


def _detect_delimiter(text: str) -> str:
    """Find the delimiter: ask csv.Sniffer, but only trust an answer the header line contains."""
    header = next((line for line in text.splitlines() if line.strip()), "")
    try:
        sniffed = csv.Sniffer().sniff(text, delimiters=CSV_DELIMITERS).delimiter
    except csv.Error:
        sniffed = ""
    if sniffed and sniffed in header:
        return sniffed
    counts = {delimiter: header.count(delimiter) for delimiter in CSV_DELIMITERS}
    most = max(counts, key=counts.__getitem__)
    # A header without any delimiter is a single-column file.
    return most if counts[most] else ","


def _is_blank_record(fields: list[str]) -> bool:
    """csv yields [] for an empty line and [' '] for a line of spaces; neither is a row."""
    return not fields or (len(fields) == 1 and not fields[0].strip())


class CsvReader(ReaderBase):
    """Delimited text with a header row, in any common encoding.

    A row longer than `max_line_bytes` fails the file rather than being skipped: csv cannot
    resume in the middle of a row it was stopped in, a row that long is nearly always a
    quote that is never closed or a file that is not a table (whose next "rows" would be
    wrong too), and all or nothing keeps one rule for every file-level problem.
    """

    def __init__(self, path: Path, limits: FileLimits) -> None:
        binary = path.open("rb")
        try:
            sample, size, complete = read_sample(binary)
            if size == 0:
                raise UnreadableFileError(EMPTY)
            encoding = detect_encoding(sample, complete)
            text = check_text_sample(decode_sample(sample, encoding, complete), complete)
            if not complete:
                # Do not let the sniffer see a line cut off by the sample boundary.
                text = text[: text.rfind("\n") + 1] or text
            delimiter = _detect_delimiter(text)
            binary.seek(0)
        except BaseException:
            binary.close()
            raise
        self._binary = binary
        self._encoding = self.encoding = encoding
        self.delimiter = delimiter
        self._max_columns = limits.max_columns
        self._progress = ByteProgress(binary, size)
        # UTF-8 is read as it is; other encodings reach the TextIOWrapper as UTF-8.
        as_is = codecs.lookup(encoding).name in ("utf-8", "utf-8-sig")
        self._bounded = BoundedText(
            binary, limits.max_line_bytes, decode_from=None if as_is else encoding
        )
        self._text = io.TextIOWrapper(
            self._bounded,  # type: ignore[type-var]  # a BufferedIOBase; typeshed wants .name
            encoding=encoding if as_is else "utf-8",
            newline="",
        )
        # Standard quoting only: the sniffer's quote and space guesses misfire on names
        # like O'Brien, and cell values must reach the caller exactly as written. Strict, so
        # a quote that is never closed fails loudly instead of swallowing the rows after it.
        self._records = csv.reader(self._text, delimiter=delimiter, strict=True)
        self._number = 0
        try:
            self._columns = self._read_header()
        except BaseException:
            self.close()
            raise

    def fraction_read(self) -> float:
        return self._progress.fraction()

    def close(self) -> None:
        self._text.close()

    def _read_header(self) -> list[str]:
        try:
            for fields in self._records:
                self._number += 1
                self._bounded.rows = self._number
                if not _is_blank_record(fields):
                    # The codec drops a leading BOM; this catches a doubled one from re-saving.
                    fields[0] = fields[0].lstrip("\ufeff")
                    return check_header([name.strip() for name in fields], self._max_columns)
        except (UnicodeDecodeError, csv.Error) as err:
            raise self._unreadable(err, self._number + 1) from err
        except ContentTooLarge as err:
            raise UnreadableFileError(str(err)) from err
        raise UnreadableFileError(EMPTY)

    def __iter__(self) -> Iterator[RawRow]:
        # The hot loop of a million-row import: locals only, one branch for good rows.
        keys = self._keys_by_position()
        width = len(keys)
        kept = tuple(key for key in keys if key)
        # The cells of the kept columns, by one C call (None: every column is kept).
        pick = None if len(kept) == width else _picker([i for i, key in enumerate(keys) if key])
        number = self._number
        bounded = self._bounded
        max_columns = self._max_columns
        try:
            for fields in self._records:
                number += 1
                bounded.rows = number  # so a row past the length limit is stopped, and named
                if len(fields) == width:
                    cells = fields if pick is None else pick(fields)
                    # Every CSV cell is a str, so a blank one is falsy: compress drops it, in C.
                    # (The lengths match; zip's strict keyword alone costs a tenth of a µs.)
                    yield RawRow(number, dict(compress(zip(kept, cells), cells)))  # noqa: B905
                elif not _is_blank_record(fields):
                    values: dict[str, object] = {
                        k: v for k, v in zip(keys, fields, strict=False) if k and v
                    }
                    problem = _field_count_problem(len(fields), width, max_columns)
                    yield RawRow(number, values, problem)
        except (UnicodeDecodeError, csv.Error) as err:
            raise self._unreadable(err, number + 1) from err
        except ContentTooLarge as err:
            raise UnreadableFileError(str(err)) from err
        finally:
            self._number = number

    def _unreadable(self, err: Exception, row: int) -> UnreadableFileError:
        """Explain a failure that stops the whole file from being read."""
        if isinstance(err, UnicodeDecodeError):
            # The decoder sees one chunk at a time; the chunk ends at the current position.
            offset = max(self._binary.tell() - len(err.object) + err.start, 0)
            return UnreadableFileError(decode_error_message(self._encoding, offset))
        if "unexpected end of data" in str(err):
            return UnreadableFileError(
                f'A quoted value that starts in row {row} is never closed (a " is missing), '
                "so the rows after it cannot be told apart. Fix the quote and upload again."
            )
        if "field larger than field limit" in str(err):
            # The limit stays in place: it stops a runaway quote from eating all memory.
            return UnreadableFileError(
                f"Row {row} has a value longer than csv allows; usually a quote that is never "
                'closed (a " is missing). Fix it and upload again.'
            )
        return UnreadableFileError(f"Row {row} is not valid CSV ({err}). Fix it and upload again.")
