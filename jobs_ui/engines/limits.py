"""Limits on what one uploaded file may hold, so that a crafted file cannot exhaust memory.

The upload limit bounds a file's size, not what reading it costs: the parsers build a whole
line, row or workbook part in memory before anyone can look at it, so one 29 MB JSON line
with two million keys, or a workbook part that unpacks to gigabytes, costs that memory many
times over. The checks here stop such a file while it is read, before the costly object
exists, and say why in a sentence (`ContentTooLarge`; the readers turn it into their
`UnreadableFileError`, so the job fails with that sentence and imports nothing).
"""

from __future__ import annotations

import codecs
import io
import math
import zipfile
import zlib
from dataclasses import dataclass
from typing import IO

from openpyxl.packaging.manifest import Manifest
from openpyxl.packaging.relationship import get_dependents
from openpyxl.xml.constants import (
    ARC_CONTENT_TYPES,
    ARC_CORE,
    ARC_CUSTOM,
    ARC_STYLE,
    ARC_THEME,
    ARC_WORKBOOK,
    SHARED_STRINGS,
    XLSM,
    XLSX,
    XLTM,
    XLTX,
)
from openpyxl.xml.functions import fromstring

_MB = 1024 * 1024

# Each workbook part's cap, by how openpyxl (read-only mode) reads it. Checked on the sizes
# the zip declares, before openpyxl opens anything: zipfile never unpacks a part past its
# declared size, so a part cannot grow beyond what was checked.
MAX_SHEET_PART_BYTES = 512 * _MB
"""A worksheet is streamed a row at a time, so its size costs time rather than memory; it
gets the whole budget (the total cap applies too). A million-row sheet is ~200-450 MB."""
MAX_SHARED_STRINGS_BYTES = 64 * _MB
"""The shared strings are loaded whole: 64 MB holds a full sheet (a million rows) of unique
names and emails, and costs at most ~360 MB of memory (measured on 4 million tiny strings,
the worst case: openpyxl keeps an element per string until the end)."""
MAX_PART_BYTES = 16 * _MB
"""Every other part openpyxl opens (styles, workbook, relationships, theme, properties) is
parsed whole into objects at ~15x its size (a 16 MB styles.xml costs ~250 MB, measured);
real ones are kilobytes to a few MB."""
MAX_LOADED_BYTES = 64 * _MB
"""All the parts loaded whole, together: per-part caps alone would let a crafted package
add up many of them (charts, drawings, chartsheets are each read whole)."""

# Relationship types whose targets openpyxl never opens when it reads values in read-only
# mode (images need Pillow, which is not installed; external links are not kept). Some are
# large in real workbooks (a pivot cache holds a copy of its source data), so they only
# count towards the total. Any other target counts as read whole: the strict side.
_NEVER_OPENED = frozenset(
    {"image", "hdphoto", "media", "video", "audio", "oleObject", "package", "vbaProject"}
    | {"printerSettings", "pivotCacheDefinition", "pivotCacheRecords", "pivotTable"}
    | {"calcChain", "comments", "vmlDrawing", "table", "queryTable", "connections"}
    | {"externalLink", "customXml", "customXmlProps"}
)
_WORKBOOK_TYPES = frozenset({XLSX, XLSM, XLTX, XLTM})  # content types of the workbook part


@dataclass(frozen=True, slots=True)
class FileLimits:
    """Bounds on one file's contents. The defaults are those of `Settings`
    (JOBS_UI_MAX_LINE_BYTES, JOBS_UI_MAX_COLUMNS, JOBS_UI_XLSX_MEMORY_MB), which the runner
    passes in."""

    max_line_bytes: int = 1024 * 1024
    """Longest line (JSON Lines) or row (CSV, including quoted values over several lines)."""
    max_columns: int = 1000
    """Most columns in a header, and most keys in one JSON object or in a whole file."""
    xlsx_memory_bytes: int = 512 * _MB
    """Most memory a worksheet may take loaded whole (the fast way); a larger one is streamed."""


class ContentTooLarge(Exception):
    """Part of a file is past one of the limits; str(exc) is a sentence for a person."""


def size_label(size: int) -> str:
    """A limit as people write it: "1 MB", "64 KB", "1,500 bytes"."""
    if size % _MB == 0:
        return f"{size // _MB:,} MB"
    if size % 1024 == 0:
        return f"{size // 1024:,} KB"
    return f"{size:,} bytes"


def megabytes(size: int) -> str:
    """A size past a limit, rounded up so that it never reads as equal to the limit."""
    return f"{math.ceil(size / _MB):,} MB"


# ---------------------------------------------------------------------------
# Delimited text: rows bounded while csv reads them


class BoundedText(io.BufferedIOBase):
    """A text file's bytes for `io.TextIOWrapper`, refusing a row longer than the limit.

    csv builds a whole row in memory before it hands it over, so a huge row has to be
    stopped while it is being read. This sits between the file and the TextIOWrapper,
    sees the file one chunk at a time, and raises `ContentTooLarge` as soon as a line, or a
    row whose quoted values run over several lines, has grown past the limit. Memory then
    stays within the limit plus two chunks, whatever the file holds.

    The checks are a few C-level searches per chunk, nothing per line or cell, so reading
    keeps its speed; the reader only tells it each time csv completes a row (`rows`).

    Line breaks are found as bytes, which is only sound where a CR or LF byte is always that
    character. So UTF-8 passes through as it is, and any other encoding (UTF-16, Windows-1252,
    ...) is decoded here and handed on as UTF-8: the limit counts the text's UTF-8 bytes
    whatever encoding it was saved in. Decoding errors keep the shape the readers expect:
    `err.object` ends at the file's current position.
    """

    _CHUNK = 64 * 1024

    def __init__(self, binary: IO[bytes], limit: int, *, decode_from: str | None) -> None:
        super().__init__()
        self._binary = binary
        self._limit = limit
        self._decoder = None if decode_from is None else codecs.getincrementaldecoder(decode_from)()
        # A chunk no larger than the limit, so no line that starts and ends inside one chunk
        # can be too long: only the line running on from the chunks before needs counting.
        # Decoded text may grow up to 3x as UTF-8 (a Windows-1252 "€"), hence a quarter.
        self._chunk = max(1, min(self._CHUNK, limit if decode_from is None else limit // 4))
        self.rows = 0
        """How many rows csv has completed; the reader sets it, the check reads it."""
        self._rows_at_last_chunk = 0
        self._last_chunk = 0  # bytes handed out by the previous read
        self._line = 0  # bytes of the line in progress, before the current chunk
        self._row = 0  # bytes of whole chunks handed out while no row was completed

    def readable(self) -> bool:
        return True

    def read1(self, size: int | None = -1) -> bytes:
        want = self._chunk if size is None or size < 0 else max(1, min(size, self._chunk))
        data = self._binary.read(want)
        if self._decoder is not None:
            data = self._as_utf8(data, want)
        self._check(data)
        return data

    def read(self, size: int | None = -1) -> bytes:
        if size is not None and size >= 0:
            return self.read1(size)
        return b"".join(iter(self.read1, b""))

    def close(self) -> None:
        if not self.closed:
            self._binary.close()
        super().close()

    def _as_utf8(self, data: bytes, want: int) -> bytes:
        decoder = self._decoder
        assert decoder is not None
        text = decoder.decode(data, final=not data)
        while not text and data:  # only part of a character so far: an empty read means EOF
            data = self._binary.read(want)
            text = decoder.decode(data, final=not data)
        return text.encode("utf-8")

    def _check(self, data: bytes) -> None:
        limit = self._limit
        if self.rows != self._rows_at_last_chunk:
            self._rows_at_last_chunk = self.rows
            self._row = 0
        else:
            # No row was completed while csv read the previous chunk: all of it is part of
            # the row in progress (a lower bound, so no row within the limit is refused).
            self._row += self._last_chunk
        self._last_chunk = len(data)
        last_break = max(data.rfind(b"\n"), data.rfind(b"\r"))
        if last_break < 0:
            self._line += len(data)
            head = len(data)
        else:
            head = _first_break(data)
            line = self._line + head
            self._line = len(data) - last_break - 1
            if line > limit:
                raise self._too_long()
        # The row in progress runs on into this chunk up to its first line break at least.
        if self._line > limit or self._row + head > limit:
            raise self._too_long()

    def _too_long(self) -> ContentTooLarge:
        # The chunk is only asked for while csv waits for the end of the line it is reading,
        # so the row past the limit is the one after the last completed row.
        return ContentTooLarge(
            f"Row {self.rows + 1:,} is longer than the {size_label(self._limit)} limit for "
            'one row. Usually a quote is never closed (a " is missing) or the file is not a '
            "table of rows; fix it and upload again."
        )


def _first_break(data: bytes) -> int:
    """Where the first CR or LF is in `data` (which holds at least one)."""
    newline, carriage_return = data.find(b"\n"), data.find(b"\r")
    if newline < 0 or 0 <= carriage_return < newline:
        return carriage_return
    return newline


# ---------------------------------------------------------------------------
# JSON Lines: one line at a time, read with a size limit


def line_content_bytes(line: bytes) -> int:
    """Length of a line read by `readline`, not counting its line break."""
    if line.endswith(b"\r\n"):
        return len(line) - 2
    return len(line) - 1 if line.endswith(b"\n") else len(line)


def line_too_long(number: int, limit: int) -> str:
    return (
        f"Line {number:,} is longer than the {size_label(limit)} limit for one line. "
        "Each line should hold one JSON object: one record."
    )


# ---------------------------------------------------------------------------
# XLSX: every part capped by how the reader reads it


def refuse_oversized_parts(archive: zipfile.ZipFile) -> None:
    """Raise `ContentTooLarge` if a workbook part is larger than openpyxl may read it.

    Roles are found the way openpyxl finds them (content types, then relationships), and a
    part named in several roles gets the strictest cap, so a crafted package cannot pass a
    part it loads whole off as a worksheet. Raises openpyxl's own errors on a package it
    could not read either.
    """
    entries = archive.infolist()
    # Read here to find the roles, so capped before that.
    for entry in entries:
        if entry.filename == ARC_CONTENT_TYPES or entry.filename.endswith(".rels"):
            _check_part(entry, MAX_PART_BYTES, "read whole")
    sheets, strings, whole, unopened = _part_roles(archive)
    loaded = 0  # bytes of the parts loaded whole
    for entry in entries:
        name = entry.filename
        if name in whole:
            _check_part(entry, MAX_PART_BYTES, "read whole")
        elif name in strings:
            _check_part(entry, MAX_SHARED_STRINGS_BYTES, "its shared text")
        elif name in sheets:
            _check_part(entry, MAX_SHEET_PART_BYTES, "a worksheet")
            continue
        elif name not in unopened and name.endswith((".xml", ".rels")):
            # openpyxl reads some parts by a fixed name (styles, theme), not by relationship.
            _check_part(entry, MAX_PART_BYTES, "read whole")
        else:
            continue
        loaded += entry.file_size
    if loaded > MAX_LOADED_BYTES:
        raise ContentTooLarge(
            f"The parts of this workbook that are read whole (shared text, styles and the "
            f"like) unpack to {megabytes(loaded)} together, more than the "
            f"{size_label(MAX_LOADED_BYTES)} this app reads. Save the sheet as CSV and upload "
            "that instead."
        )


def _check_part(entry: zipfile.ZipInfo, cap: int, role: str) -> None:
    if entry.file_size > cap:
        raise ContentTooLarge(
            f"Part {entry.filename} of this workbook ({role}) unpacks to "
            f"{megabytes(entry.file_size)}, more than the {size_label(cap)} this app reads "
            "for it. Save the sheet as CSV and upload that instead."
        )


def _part_roles(archive: zipfile.ZipFile) -> tuple[set[str], ...]:
    """The parts openpyxl streams as worksheets, loads as shared strings, reads whole, and
    never opens, as named by the content types and by every relationship list."""
    sheets: set[str] = set()
    strings: set[str] = set()
    # Read whole whatever any relationship says: openpyxl opens these by their fixed name.
    whole = {ARC_CONTENT_TYPES, ARC_WORKBOOK, ARC_STYLE, ARC_THEME, ARC_CORE, ARC_CUSTOM}
    unopened: set[str] = set()
    manifest = Manifest.from_tree(fromstring(archive.read(ARC_CONTENT_TYPES)))
    for part in manifest.Override:
        if part.ContentType == SHARED_STRINGS:
            strings.add(part.PartName[1:])
        elif part.ContentType in _WORKBOOK_TYPES:
            whole.add(part.PartName[1:])
    for name in archive.namelist():
        if not name.endswith(".rels"):
            continue
        whole.add(name)
        try:
            relationships = get_dependents(archive, name)
        except (SyntaxError, ValueError, TypeError, AttributeError, KeyError, zlib.error):
            # openpyxl cannot follow a list it cannot parse either, so nothing is opened
            # through it (SyntaxError includes XML parse errors).
            continue
        for relationship in relationships:
            if relationship.TargetMode == "External":
                continue
            kind = (relationship.Type or "").rsplit("/", 1)[-1]
            if kind == "worksheet":
                sheets.add(relationship.target)
            elif kind == "sharedStrings":
                strings.add(relationship.target)
            elif kind in _NEVER_OPENED:
                unopened.add(relationship.target)
            else:
                whole.add(relationship.target)
    return sheets, strings, whole, unopened
