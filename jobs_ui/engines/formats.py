"""Streaming readers for uploaded CSV, JSON Lines and Excel files.

Every reader yields one `RawRow` per data row and never holds more than a small
sample of the file in memory, so a million-row upload costs the same memory as
a ten-row one; nor more than a line, row or workbook part within `FileLimits` (see
`limits`), however the file is crafted. A row's values leave out blank cells (empty, or
null), and can be keyed by the caller's own names for the columns (`rename`), so a row is
ready to validate.
Problems with the file as a whole raise `UnreadableFileError`; problems with a single row
are reported on that row.
"""

from __future__ import annotations

import codecs
import csv
import functools
import io
import json
import operator
import os
import re
import zipfile
import zlib
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from itertools import compress
from pathlib import Path
from types import TracebackType
from typing import IO, Protocol, Self

from charset_normalizer import from_bytes
from charset_normalizer.utils import is_multi_byte_encoding
from openpyxl import Workbook, load_workbook
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException

from jobs_ui.engines.limits import (
    BoundedText,
    ContentTooLarge,
    FileLimits,
    line_content_bytes,
    line_too_long,
    refuse_oversized_parts,
)

SAMPLE_SIZE = 64 * 1024
"""Bytes read up front to detect the encoding and delimiter."""

CSV_DELIMITERS = ",;\t|"
"""Delimiters we recognise, in order of preference when the evidence is tied."""

_BOMS = (
    # UTF-32 first: its little-endian BOM starts with the UTF-16 one.
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

# Control characters that never appear in real text files (tab, CR, LF and form feed do).
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f]")

_NOT_TEXT = "This file is not a text file. Please upload a CSV or text export of your data."
_EMPTY = "The file is empty."
_NOT_XLSX = "This file is not a valid Excel (.xlsx) workbook."

# openpyxl reports a damaged workbook through many unrelated exception types.
_BROKEN_WORKBOOK_ERRORS = (
    zipfile.BadZipFile,
    InvalidFileException,
    KeyError,
    IndexError,
    ValueError,
    TypeError,
    SyntaxError,  # includes xml.etree.ElementTree.ParseError
    zlib.error,
    EOFError,
    OSError,  # e.g. "File contains no valid workbook part"
    RuntimeError,  # zipfile: encrypted entries
)

# openpyxl loads a workbook's shared strings whole; a tiny zip can unpack to gigabytes.
MAX_UNPACKED_XML_BYTES = 512 * 1024 * 1024


class FileFormat(StrEnum):
    """File formats the importer can read and the exporter can write."""

    CSV = "csv"
    JSONL = "jsonl"
    XLSX = "xlsx"


_EXTENSIONS = {
    ".csv": FileFormat.CSV,
    ".tsv": FileFormat.CSV,
    ".txt": FileFormat.CSV,
    ".jsonl": FileFormat.JSONL,
    ".ndjson": FileFormat.JSONL,
    ".xlsx": FileFormat.XLSX,
}


def format_from_filename(filename: str) -> FileFormat | None:
    """Guess the format from the file extension (case-insensitive); None if unknown."""
    return _EXTENSIONS.get(Path(filename).suffix.lower())


class UnreadableFileError(Exception):
    """The file as a whole cannot be read; str(exc) is a sentence a non-programmer understands."""


@dataclass(slots=True)  # not frozen: a frozen dataclass is built 3x slower, per row
class RawRow:
    """One data row as found in the file, before any validation."""

    number: int
    """Row number as a person counts it: spreadsheet row for CSV/XLSX, line for JSONL."""
    values: dict[str, object]
    """Column name -> cell value, for the row's non-blank cells; partial when `problem` is set.
    Keyed by header, or by the names given to `rename`."""
    problem: str | None = None
    """Why the row is malformed, or None when it is well formed."""


NamesFor = Callable[[Sequence[str]], Mapping[str, str]]
"""Given a row's header names, the caller's name for each; names left out are dropped."""


class RowReader(Protocol):
    """What `open_reader` returns; also a context manager that closes the file."""

    @property
    def columns(self) -> list[str]:
        """Header names in file order."""
        ...

    def rename(self, names_for: NamesFor) -> None:
        """Key the rows read from now on by `names_for`'s names (a JSON line's key set is
        asked once); columns it leaves out are left out of the rows."""
        ...

    def __iter__(self) -> Iterator[RawRow]: ...

    def fraction_read(self) -> float:
        """How far through the file the reader is, from 0.0 to 1.0."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


def open_reader(path: Path, fmt: FileFormat, limits: FileLimits | None = None) -> RowReader:
    """Open `path` for streaming; raises UnreadableFileError if it cannot be read at all,
    or when it is past one of `limits` (the defaults when None)."""
    readers: dict[FileFormat, Callable[[Path, FileLimits], RowReader]] = {
        FileFormat.CSV: _CsvReader,
        FileFormat.JSONL: _JsonLinesReader,
        FileFormat.XLSX: _XlsxReader,
    }
    return readers[fmt](path, limits or FileLimits())


class _ReaderBase(ABC):
    """Shared context-manager plumbing for the format readers, and renaming by position."""

    _columns: list[str]
    _keys: tuple[str | None, ...] | None = None  # by position; None: the header names

    def rename(self, names_for: NamesFor) -> None:
        names = names_for(self._columns)
        self._keys = tuple(names.get(column) for column in self._columns)

    def _keys_by_position(self) -> Sequence[str | None]:
        return self._columns if self._keys is None else self._keys

    @abstractmethod
    def close(self) -> None:
        """Release the file."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class _ByteProgress:
    """Reports progress as the read position of a binary file."""

    def __init__(self, binary: IO[bytes], size: int) -> None:
        self._binary = binary
        self._size = size
        self._last = 1.0 if size == 0 else 0.0

    def fraction(self) -> float:
        # Remember the last answer so the value stays put (and monotonic) after close.
        if self._size and not self._binary.closed:
            self._last = min(self._binary.tell() / self._size, 1.0)
        return self._last


# ---------------------------------------------------------------------------
# Text helpers shared by CSV and JSON Lines


def _read_sample(binary: IO[bytes]) -> tuple[bytes, int, bool]:
    """Return the first bytes, the file size, and whether those bytes are the whole file."""
    size = os.fstat(binary.fileno()).st_size
    sample = binary.read(SAMPLE_SIZE)
    return sample, size, len(sample) >= size


def _decode_sample(sample: bytes, encoding: str, complete: bool) -> str | None:
    """Decode the sample, tolerating a character cut in half at its end; None if it fails."""
    try:
        return codecs.getincrementaldecoder(encoding)().decode(sample, final=complete)
    except UnicodeDecodeError:
        return None


def _check_text_sample(text: str | None, complete: bool) -> str:
    """Reject samples that are empty or are binary data that happened to decode."""
    if text is None:
        raise UnreadableFileError(_NOT_TEXT)
    if complete and not text.strip():
        raise UnreadableFileError(_EMPTY)
    if len(_CONTROL_CHARS.findall(text)) * 100 > len(text):
        raise UnreadableFileError(_NOT_TEXT)
    return text


def _encoding_label(encoding: str) -> str:
    """A name for the encoding that people recognise from their editor's save dialog."""
    name = codecs.lookup(encoding).name
    if name.startswith("utf-8"):
        return "UTF-8"
    if name.startswith("cp125"):
        return f"Windows-{name[2:]}"
    return name.upper()


def _decode_error_message(encoding: str, byte_offset: int) -> str:
    return (
        f"The file is not valid {_encoding_label(encoding)} text near byte {byte_offset:,}. "
        "Save it as UTF-8 (in Excel: CSV UTF-8) and upload it again."
    )


def _detect_encoding(sample: bytes, complete: bool) -> str:
    """Pick the codec for a CSV file from its first bytes."""
    for bom, encoding in _BOMS:
        if sample.startswith(bom):
            return encoding
    if b"\x00" in sample:
        # UTF-16/32 text is full of NUL bytes. Other text holds one only as a control
        # character in a cell (our own export writes them, neutralised with a quote);
        # binary data fails the UTF-8 check here or the control-character count after.
        best = from_bytes(sample).best()
        if best is not None and best.encoding.startswith(("utf_16", "utf_32")):
            return best.encoding
        if _decode_sample(sample, "utf-8", complete) is not None:
            return "utf-8"
        raise UnreadableFileError(_NOT_TEXT)
    if _decode_sample(sample, "utf-8", complete) is not None:
        return "utf-8"
    return _detect_legacy_encoding(sample)


def _detect_legacy_encoding(sample: bytes) -> str:
    """Guess a pre-Unicode encoding, preferring Windows-1252 when the evidence is tied.

    charset-normalizer cannot tell the Western single-byte code pages apart on typical
    data (it picks cp1250 or even cp1006 for plain French or German names), while
    Windows-1252 is what Excel writes in Western locales. So Windows-1252 wins unless it
    reads as noisier than the detector's pick, or the text is multi-byte (CJK and the like).
    """
    matches = from_bytes(sample)
    best = matches.best()
    # A guess with no language evidence (coherence 0) is noise on a few bytes, so it does not
    # count; among guesses with evidence, chaos (odd characters) decides.
    evidence = best is not None and best.coherence > 0
    if evidence and is_multi_byte_encoding(best.encoding):
        return best.encoding
    western = next((match for match in matches if match.encoding == "cp1252"), None)
    prefer_western = not evidence or (western is not None and western.chaos <= best.chaos)
    if prefer_western and _decode_sample(sample, "cp1252", complete=True) is not None:
        return "cp1252"
    if best is None:
        raise UnreadableFileError(_NOT_TEXT)
    return best.encoding


# ---------------------------------------------------------------------------
# Header checks shared by CSV and XLSX


def _check_header(names: list[str], max_columns: int) -> list[str]:
    """Return the header unchanged, or raise if it is too wide, or a column is unnamed or
    named twice."""
    if len(names) > max_columns:
        raise UnreadableFileError(
            f"The header row has {len(names):,} columns, more than the {max_columns:,} this "
            "app reads. Remove the columns you do not need and upload again."
        )
    for position, name in enumerate(names, start=1):
        if not name:
            raise UnreadableFileError(
                f"Column {position} of the header row has no name. "
                "Every column needs a name in the header row."
            )
    repeated = [name for name, count in Counter(names).items() if count > 1]
    if repeated:
        listed = ", ".join(f'"{name}"' for name in repeated)
        raise UnreadableFileError(f"The header row uses the same column name twice: {listed}.")
    return names


def _picker(positions: list[int]) -> Callable[[list[str]], Sequence[str]]:
    """The cells at `positions` of a row, as a tuple (itemgetter alone unpacks a single one)."""
    if len(positions) == 1:
        (only,) = positions
        return lambda fields: (fields[only],)
    return operator.itemgetter(*positions)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _field_count_problem(found: int, expected: int, max_columns: int) -> str:
    if found > max_columns:
        return f"Row has {found:,} fields, more than the {max_columns:,} this app reads."
    return f"Row has {_plural(found, 'field')} but the header has {_plural(expected, 'column')}."


# ---------------------------------------------------------------------------
# CSV


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


class _CsvReader(_ReaderBase):
    """Delimited text with a header row, in any common encoding.

    A row longer than `max_line_bytes` fails the file rather than being skipped: csv cannot
    resume in the middle of a row it was stopped in, a row that long is nearly always a
    quote that is never closed or a file that is not a table (whose next "rows" would be
    wrong too), and all or nothing keeps one rule for every file-level problem.
    """

    def __init__(self, path: Path, limits: FileLimits) -> None:
        binary = path.open("rb")
        try:
            sample, size, complete = _read_sample(binary)
            if size == 0:
                raise UnreadableFileError(_EMPTY)
            encoding = _detect_encoding(sample, complete)
            text = _check_text_sample(_decode_sample(sample, encoding, complete), complete)
            if not complete:
                # Do not let the sniffer see a line cut off by the sample boundary.
                text = text[: text.rfind("\n") + 1] or text
            delimiter = _detect_delimiter(text)
            binary.seek(0)
        except BaseException:
            binary.close()
            raise
        self._binary = binary
        self._encoding = encoding
        self._max_columns = limits.max_columns
        self._progress = _ByteProgress(binary, size)
        # UTF-8 is read as it is; other encodings reach the TextIOWrapper as UTF-8.
        as_is = codecs.lookup(encoding).name in ("utf-8", "utf-8-sig")
        self._bounded = BoundedText(
            binary, limits.max_line_bytes, decode_from=None if as_is else encoding
        )
        self._text = io.TextIOWrapper(
            self._bounded, encoding=encoding if as_is else "utf-8", newline=""
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

    @property
    def columns(self) -> list[str]:
        return list(self._columns)

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
                    return _check_header([name.strip() for name in fields], self._max_columns)
        except (UnicodeDecodeError, csv.Error) as err:
            raise self._unreadable(err, self._number + 1) from err
        except ContentTooLarge as err:
            raise UnreadableFileError(str(err)) from err
        raise UnreadableFileError(_EMPTY)

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
                    values = {k: v for k, v in zip(keys, fields, strict=False) if k and v}
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
            return UnreadableFileError(_decode_error_message(self._encoding, offset))
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


# ---------------------------------------------------------------------------
# JSON Lines


def _first_object_keys(text: str) -> list[str]:
    """Keys of the first JSON object in the sample, so `columns` is known before iterating."""
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            return list(record)
    return []


class _JsonLinesReader(_ReaderBase):
    """One JSON object per line, UTF-8.

    A line longer than `max_line_bytes` fails the file, as a CSV row does (one rule for
    both): such a line is a document that is not JSON Lines, or made to exhaust memory.
    An object with more than `max_columns` keys is skipped with a reason (it is already
    parsed, at most a line long, and the next line is unaffected); keys are also capped
    across the file, since every new one becomes a column the reader remembers.
    """

    def __init__(self, path: Path, limits: FileLimits) -> None:
        binary = path.open("rb")
        try:
            sample, size, complete = _read_sample(binary)
            if size == 0:
                raise UnreadableFileError(_EMPTY)
            if b"\x00" in sample:
                raise UnreadableFileError(_NOT_TEXT)
            bom = len(codecs.BOM_UTF8) if sample.startswith(codecs.BOM_UTF8) else 0
            text = _decode_sample(sample[bom:], "utf-8", complete)
            if text is None:
                raise UnreadableFileError(_first_decode_error(sample, bom))
            _check_text_sample(text, complete)
            binary.seek(bom)
        except BaseException:
            binary.close()
            raise
        self._binary = binary
        self._limits = limits
        self._progress = _ByteProgress(binary, size)
        first_keys = _first_object_keys(text)
        # Too many: that line is reported as it is read, and none of them become columns.
        self._columns = first_keys if len(first_keys) <= limits.max_columns else []
        self._known = set(self._columns)
        self._names_for: NamesFor | None = None
        self._names_by_keys: dict[tuple[str, ...], Mapping[str, str]] = {}

    @property
    def columns(self) -> list[str]:
        return list(self._columns)

    def fraction_read(self) -> float:
        return self._progress.fraction()

    def close(self) -> None:
        self._binary.close()

    def __iter__(self) -> Iterator[RawRow]:
        known = self._known
        limit = self._limits.max_line_bytes
        max_keys = self._limits.max_columns
        # readline with a size never holds more than that of a line: a longer one comes in
        # pieces, and the first piece already tells (the 2 leave room for a CRLF).
        lines = iter(functools.partial(self._binary.readline, limit + 2), b"")
        for number, line in enumerate(lines, start=1):
            if len(line) > limit and line_content_bytes(line) > limit:
                raise UnreadableFileError(line_too_long(number, limit))
            if line.isspace():
                continue
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError as err:
                offset = self._binary.tell() - len(line) + err.start
                raise UnreadableFileError(_decode_error_message("utf-8", offset)) from err
            try:
                record = json.loads(text)
            except ValueError as err:
                yield RawRow(number, {}, _json_problem(err))
                continue
            if type(record) is not dict:
                yield RawRow(number, {}, "Line is not a JSON object.")
                continue
            if len(record) > max_keys:
                problem = (
                    f"Line has {len(record):,} keys, more than the {max_keys:,} this app reads."
                )
                yield RawRow(number, {}, problem)
                continue
            if not record.keys() <= known:
                self._add_columns(record, number)
            yield RawRow(number, self._renamed(record))

    def rename(self, names_for: NamesFor) -> None:
        # Each line names its own keys: ask once per distinct key set (files have few).
        self._names_for = names_for
        self._names_by_keys.clear()

    def _renamed(self, record: dict[str, object]) -> dict[str, object]:
        names_for = self._names_for
        if names_for is None:
            return {key: value for key, value in record.items() if not _is_blank_cell(value)}
        keys = tuple(record)
        names = self._names_by_keys.get(keys)
        if names is None:
            if len(self._names_by_keys) >= _MAX_KEY_SETS:
                self._names_by_keys.clear()  # a file of ever new key orders: memory stays put
            names = self._names_by_keys[keys] = names_for(keys)
        return {
            names[key]: value
            for key, value in record.items()
            if key in names and not _is_blank_cell(value)
        }

    def _add_columns(self, record: dict[str, object], number: int) -> None:
        new = [key for key in record if key not in self._known]
        max_columns = self._limits.max_columns
        if len(self._known) + len(new) > max_columns:
            raise UnreadableFileError(
                f"Line {number:,} brings the keys used in this file past the {max_columns:,} "
                "different ones this app reads. Each line should hold one record, with keys "
                "from the same few columns."
            )
        self._known.update(new)
        self._columns.extend(new)


_MAX_KEY_SETS = 256  # distinct key lists (in order) whose field names are remembered


def _first_decode_error(sample: bytes, start: int) -> str:
    """Message for a JSON Lines sample that is not UTF-8, pointing at the first bad byte."""
    try:
        sample[start:].decode("utf-8")
    except UnicodeDecodeError as err:
        return _decode_error_message("utf-8", start + err.start)
    return _NOT_TEXT


def _json_problem(err: ValueError) -> str:
    if isinstance(err, json.JSONDecodeError):
        return f"Line is not valid JSON: {err.msg} (column {err.colno})."
    return f"Line is not valid JSON: {err}."


# ---------------------------------------------------------------------------
# XLSX


def _open_workbook(file: IO[bytes]) -> Workbook:
    """Open a workbook for streaming, or say in plain words that it is not one."""
    try:
        _refuse_zip_bombs(file)
        # External links are not needed for cell values; not keeping them leaves their
        # (possibly large) cached copies unread.
        return load_workbook(file, read_only=True, data_only=True, keep_links=False)
    except _BROKEN_WORKBOOK_ERRORS as err:
        raise UnreadableFileError(_NOT_XLSX) from err


def _refuse_zip_bombs(file: IO[bytes]) -> None:
    """Refuse a workbook that unpacks to too much in total, or in any one part (see
    `refuse_oversized_parts`), from the sizes in the zip's directory: nothing is unpacked."""
    with zipfile.ZipFile(file) as archive:
        unpacked = sum(entry.file_size for entry in archive.infolist())
        if unpacked > MAX_UNPACKED_XML_BYTES:
            raise UnreadableFileError(
                f"This workbook unpacks to {unpacked / 1024 / 1024:,.0f} MB, more than the "
                f"{MAX_UNPACKED_XML_BYTES / 1024 / 1024:,.0f} MB this app reads. "
                "Save it as CSV and upload that instead."
            )
        try:
            refuse_oversized_parts(archive)
        except ContentTooLarge as err:
            raise UnreadableFileError(str(err)) from err
    file.seek(0)


def _is_blank_cell(value: object) -> bool:
    return value is None or value == ""


def _is_blank_row(row: tuple[object, ...]) -> bool:
    return all(value is None or value == "" for value in row)


class _XlsxReader(_ReaderBase):
    """The first worksheet of an Excel workbook, read with openpyxl in read-only mode."""

    def __init__(self, path: Path, limits: FileLimits) -> None:
        # Pass an open file rather than the path: openpyxl refuses paths whose
        # extension it does not know, and uploads may be stored under any name.
        self._file = path.open("rb")
        self._workbook: Workbook | None = None
        self._row_number = 0
        self._done = False
        self._max_columns = limits.max_columns
        try:
            self._workbook = _open_workbook(self._file)
            if not self._workbook.worksheets:
                raise UnreadableFileError(_NOT_XLSX)
            sheet = self._workbook.worksheets[0]
            self._total_rows = sheet.max_row or 0
            # Some writers store a wrong size; without resetting, openpyxl would cut
            # the data to that size. The stored size is still fine for progress.
            sheet.reset_dimensions()
            self._rows = self._guarded(sheet.iter_rows(values_only=True))
            self._columns = self._read_header()
        except BaseException:
            self.close()
            raise

    @property
    def columns(self) -> list[str]:
        return list(self._columns)

    def fraction_read(self) -> float:
        if self._done:
            return 1.0
        if not self._total_rows:
            return 0.0
        return min(self._row_number / self._total_rows, 1.0)

    def close(self) -> None:
        if self._workbook is not None:
            self._workbook.close()
        self._file.close()

    def _guarded(self, rows: Iterator[tuple[object, ...]]) -> Iterator[tuple[object, ...]]:
        """Track the sheet row number and report a damaged workbook in plain words."""
        try:
            for row in rows:
                self._row_number += 1
                yield tuple(row)
        except _BROKEN_WORKBOOK_ERRORS as err:
            raise UnreadableFileError(_NOT_XLSX) from err
        self._done = True

    def _read_header(self) -> list[str]:
        for row in self._rows:
            if _is_blank_row(row):
                continue
            cells = list(row)
            # Formatted but empty cells often extend a row past the real header.
            while _is_blank_cell(cells[-1]):
                cells.pop()
            names = ["" if cell is None else str(cell).strip() for cell in cells]
            return _check_header(names, self._max_columns)
        raise UnreadableFileError(_EMPTY)

    def __iter__(self) -> Iterator[RawRow]:
        keys = self._keys_by_position()
        width = len(keys)
        for row in self._rows:
            if _is_blank_row(row):
                continue
            # Spreadsheets drop trailing empty cells: a short row's last columns are blank.
            values = {
                key: value
                for key, value in zip(keys, row, strict=False)
                if key and not _is_blank_cell(value)
            }
            if len(row) > width:
                yield self._wide_row(row, width, values)
            else:
                yield RawRow(self._row_number, values)

    def _wide_row(self, row: tuple[object, ...], width: int, values: dict[str, object]) -> RawRow:
        """A row longer than the header is fine unless the extra cells hold something."""
        beyond = range(width, len(row))
        extra = next((index for index in beyond if not _is_blank_cell(row[index])), None)
        if extra is None:
            return RawRow(self._row_number, values)
        problem = (
            f"Row has a value in column {get_column_letter(extra + 1)}, "
            f"beyond the header's {_plural(width, 'column')}."
        )
        return RawRow(self._row_number, values, problem)
