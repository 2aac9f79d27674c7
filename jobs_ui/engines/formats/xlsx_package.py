"""A workbook's package before any sheet is read: its worksheets, and what loading one costs.

Loading a sheet whole (calamine) is an order of magnitude faster than streaming it
(openpyxl), but holds every cell at once, and as a dense rectangle: two cells, A1 and
XFD1048576, make a range of 17 billion, and calamine aborts the process when it cannot
allocate it. So the cost is estimated before anything is loaded, in one pass over the
decompressed part (its declared size is checked against what it unpacks to):

- the rectangle: calamine spans the first cell's row to the last cell's, so the rows come
  from the head and the tail of the part; the columns from every cell, so each window is
  searched once for a reference past the widest column so far (measured exactly then);
- the cells and their text, per byte of XML, from the head and the tail (the denser of the
  two), times the part's size; a shared-text cell costs a copy of the longest entry.

A sheet written in a form the search does not follow (references in single quotes, spaces
around "=") is counted as too large: it is then streamed, which is slower but always fits.
So is a sheet holding error cells (#N/A...): calamine reads them as blanks, openpyxl as
their text, and both readers must give the same rows; and so is a cell without a reference
(calamine places it after the one before, out of the search's sight).

The estimate measures the parts openpyxl resolves; calamine finds its parts its own way
(fixed names, first of two same-named sheets...), so a package is only loaded whole when
both find the same parts (`Package.canonical`), else streamed.
"""

from __future__ import annotations

import re
import struct
import zipfile
import zlib
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

from openpyxl.packaging.manifest import Manifest
from openpyxl.packaging.relationship import RelationshipList, get_dependents, get_rels_path
from openpyxl.reader.workbook import WorkbookParser
from openpyxl.utils.cell import column_index_from_string
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.xml.constants import (
    ARC_CONTENT_TYPES,
    ARC_WORKBOOK,
    SHARED_STRINGS,
    XLSM,
    XLSX,
    XLTM,
    XLTX,
)
from openpyxl.xml.functions import fromstring

NOT_XLSX = "This file is not a valid Excel (.xlsx) workbook."

# openpyxl reports a damaged workbook through many unrelated exception types.
BROKEN_WORKBOOK_ERRORS = (
    zipfile.BadZipFile,
    InvalidFileException,
    KeyError,
    IndexError,
    ValueError,
    TypeError,
    AttributeError,
    SyntaxError,  # includes xml.etree.ElementTree.ParseError
    zlib.error,
    EOFError,
    OSError,  # e.g. "File contains no valid workbook part"
    RuntimeError,  # zipfile: encrypted entries
)

# Calibrated on calamine 0.9.1 by peak RSS while loading and iterating sheets of 0.2-1 million
# rows (numbers, inline and shared text, 4 and 20 columns): a value cell costs a 40-byte
# sparse entry while the sheet is read, the rectangle a 32-byte slot per cell once it is
# built (both are held at the peak), and a text value an allocation of at least 32 bytes
# (text up to 24 bytes fits it; longer text costs its length plus a little).
SPARSE_CELL_BYTES = 40
DENSE_CELL_BYTES = 32
TEXT_BYTES = 32
TEXT_IN_SMALLEST = 24
MARGIN = 1.1  # measured peaks were 0.86-0.97 of the estimate before it
NOT_FOLLOWED = 1 << 62  # the estimate of a sheet the scan cannot vouch for

_SAMPLE = 1024 * 1024  # decompressed bytes sampled at the head and at the tail
_INPUT = 32 * 1024  # compressed bytes inflated per step
_OUTPUT = 256 * 1024  # most decompressed bytes per step (searched while in the cache)
_OVERLAP = 64  # longer than any reference, so none is missed at a step's edge
_REF = re.compile(rb' r="([A-Z]{1,3})(\d+)"')
_ROW = re.compile(rb'<row r="(\d+)"')
_TEXT = re.compile(rb"<t(?: [^>]*)?>([^<]*)</t>")
# Attribute forms quick-xml reads that `r="` would not find: single quotes, or space
# around "=". Apostrophes in text are common, so only a window holding one is searched.
_PREFIXED_CELL = re.compile(rb"<[A-Za-z_][\w.-]*:c[\s/>]")
_SPACED_CELL = re.compile(rb"<c[\t\n\r]")
_ODD_FORM = re.compile(rb"\sr\s*=\s*'|\sr\s+=|\sr=\s")


@dataclass(frozen=True, slots=True)
class Package:
    sheets: list[str]
    """Every worksheet's name, in workbook order (chart sheets have no rows)."""
    parts: dict[str, str]
    """Worksheet name -> its part in the zip."""
    strings: str | None
    """The shared strings part, if any."""
    canonical: bool = False
    """Whether calamine finds the same parts: only then can the estimate speak for it."""
    names: tuple[str, ...] = ()
    """Every sheet's name in workbook.xml, in order, as calamine should list them."""


def read_package(archive: zipfile.ZipFile) -> Package:
    """The worksheets as openpyxl finds them (content types, workbook, relationships), and
    whether calamine would find the same ones (see `_canonical`)."""
    manifest = Manifest.from_tree(fromstring(archive.read(ARC_CONTENT_TYPES)))
    workbook_part = ARC_WORKBOOK
    strings: str | None = None
    workbooks: list[str] = []
    tables: list[str] = []
    for part in manifest.Override:
        if part.ContentType in (XLSX, XLSM, XLTX, XLTM):
            workbook_part = part.PartName[1:]
            workbooks.append(workbook_part)
        elif part.ContentType == SHARED_STRINGS:
            strings = part.PartName[1:]
            tables.append(strings)
    parser = WorkbookParser(archive, workbook_part)
    parser.parse()
    names = set(archive.namelist())
    parts: dict[str, str] = {}
    for sheet, relationship in parser.find_sheets():
        # openpyxl skips a sheet whose part is missing; so do we.
        if relationship.Type.endswith("/worksheet") and relationship.target in names:
            parts[sheet.name] = relationship.target
    if strings is not None and strings not in names:
        strings = None
    canonical = _canonical(archive, parser, workbooks, tables, strings)
    return Package(
        sheets=list(parts),
        parts=parts,
        strings=strings,
        canonical=canonical,
        names=tuple(sheet.name for sheet in parser.sheets),
    )


# A relationship target calamine and openpyxl resolve alike: plain path segments.
_PLAIN_TARGET = re.compile(
    r"/?[A-Za-z0-9_-]+(?:[A-Za-z0-9_.-]*[A-Za-z0-9_-])?"
    r"(?:/[A-Za-z0-9_-]+(?:[A-Za-z0-9_.-]*[A-Za-z0-9_-])?)*"
)
_CALAMINE_STRINGS = "xl/sharedstrings.xml"  # read by this name, in any case, whatever else says


def _canonical(
    archive: zipfile.ZipFile,
    parser: WorkbookParser,
    workbooks: list[str],
    tables: list[str],
    strings: str | None,
) -> bool:
    """Whether calamine (0.9.1) reads the very parts openpyxl does, so that the estimate,
    made on openpyxl's parts, measures what calamine loads. calamine reads the workbook,
    its relationships and the shared strings by their fixed names (in any case, ignoring
    the content types), a sheet's target as relative to xl/ (or absolute), a duplicate
    relationship id as its last, a duplicate sheet name as its first, attribute text
    without folding tabs and line breaks; and it fails a workbook with a sheet whose
    relationship is missing. Anything off the one form all agree on is streamed."""
    entries = archive.namelist()
    if len({name.lower() for name in entries}) != len(entries) or any("\\" in n for n in entries):
        return False  # a name twice (in any case): which one is read is not ours to guess
    if workbooks != [ARC_WORKBOOK] or get_rels_path(ARC_WORKBOOK) not in entries:
        return False
    calamine_strings = next((n for n in entries if n.lower() == _CALAMINE_STRINGS), None)
    if len(tables) > 1 or strings != calamine_strings:
        return False
    if calamine_strings is not None and calamine_strings != tables[0]:
        return False
    listed = fromstring(archive.read(get_rels_path(ARC_WORKBOOK)))
    raw_targets = {item.Id: item.Target for item in RelationshipList.from_tree(listed)}
    relationships = get_dependents(archive, get_rels_path(ARC_WORKBOOK))  # resolved
    if len(raw_targets) != len(relationships):
        return False  # an id twice
    by_id = {relationship.Id: relationship for relationship in relationships}
    seen: set[str] = set()
    for sheet in parser.sheets:
        name = sheet.name
        if not isinstance(name, str) or name.lower() in seen or any(c in name for c in "\t\n\r"):
            return False
        seen.add(name.lower())
        relationship = by_id.get(sheet.id)
        if relationship is None:
            return False
        if not relationship.Type.endswith("/worksheet"):
            continue
        raw = raw_targets.get(sheet.id) or ""
        if _PLAIN_TARGET.fullmatch(raw) is None:
            return False
        resolved = raw[1:] if raw.startswith("/") else f"xl/{raw}"
        if relationship.target != resolved or resolved not in entries:
            return False
    return True


def estimated_bytes(archive: zipfile.ZipFile, part: str, strings: str | None) -> int:
    """An upper bound on the memory calamine needs to load this sheet (see the module)."""
    scan = _SheetScan()
    if not scan.run(archive, archive.getinfo(part)):
        return NOT_FOLLOWED
    samples = [scan.head, scan.tail]
    rows = scan.last_row - scan.first_row + 1 if scan.last_row >= scan.first_row > 0 else 0
    total = DENSE_CELL_BYTES * rows * scan.max_column
    if strings is not None and scan.shared_cells:
        shared_length, table = _shared_text(archive, strings)
        total += table  # the table itself, held while the sheet is read
        # Each shared-text cell, wherever it is in the part, costs a copy of the longest.
        total += scan.shared_cells * max(0, shared_length - TEXT_IN_SMALLEST)
    # The cells and their text, per byte of XML, from the denser of the two samples.
    per_byte = max(_cost(sample) / max(len(sample), 1) for sample in samples)
    return int((total + per_byte * scan.xml_bytes) * MARGIN)


def _cost(sample: bytes) -> float:
    """What the cells in `sample` cost loaded (shared text beyond its first bytes aside)."""
    cells = sample.count(b"<v") + sample.count(b"<is")
    inline = [len(text) for text in _TEXT.findall(sample)]
    shared = sample.count(b't="s"')
    texts = len(inline) + shared + sample.count(b't="str"')
    longer = sum(max(0, length - TEXT_IN_SMALLEST) for length in inline)
    return SPARSE_CELL_BYTES * cells + TEXT_BYTES * texts + longer


class _SheetScan:
    """One pass over the sheet part, inflated here (raw deflate, no checksum: the reader
    checks that), doing one search per window: for references to a column past the widest
    seen so far, measured exactly in the rare window holding one. calamine's rectangle spans
    the first cell's row to the last cell's (a row out of order is dropped, not added) and
    every column any cell names; so the rows come from the head and the tail, the columns
    from the whole part."""

    def __init__(self) -> None:
        self.head = b""
        self.tail = b""
        self.xml_bytes = 0
        self.first_row = 0
        self.last_row = 0
        self.max_column = 0
        self.shared_cells = 0  # an upper bound: a reference split between steps counts twice
        self._beyond = self._pattern()

    def run(self, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bool:
        """False when the part holds a form the scan does not follow (or error cells)."""
        previous = last = b""
        recent: deque[bytes] = deque()  # the last chunks, at least `_SAMPLE` bytes
        kept = 0
        for chunk in _inflated(archive, info):
            self.xml_bytes += len(chunk)
            if self.xml_bytes > info.file_size:
                return False  # more than the directory says, which the zip guard checked
            if len(self.head) < _SAMPLE:
                self.head += chunk[: _SAMPLE - len(self.head)]
            data = previous[-_OVERLAP:] + chunk
            if not self._window(data) or _unplaced_cell(data, len(data) - _OVERLAP):
                return False
            last = data
            recent.append(chunk)
            kept += len(chunk)
            while kept - len(recent[0]) >= _SAMPLE:
                kept -= len(recent.popleft())
            previous = chunk
        if self.xml_bytes != info.file_size or _unplaced_cell(last, len(last)):
            return False
        # A reference in the part's last bytes was left for a next window there is not.
        if not self._measure_columns(last, final=True):
            return False
        self.tail = b"".join(recent)[-_SAMPLE:]
        self._rows()
        return True

    def _window(self, data: bytes) -> bool:
        if b't="e"' in data or (b"'" in data and _ODD_FORM.search(data) is not None):
            return False
        self.shared_cells += data.count(b't="s"')
        return self._measure_columns(data, final=False)

    def _measure_columns(self, data: bytes, *, final: bool) -> bool:
        """Widen `max_column` to every reference in `data` past it. One that starts in the
        last bytes may be cut short: the next window repeats them, unless this is the last."""
        edge = max(len(data) - _OVERLAP, 0)
        # The last window: only what the loop left, in its last bytes.
        found = self._beyond.search(data, edge) if final else self._beyond.search(data)
        if found is not None and (final or found.start() < edge):
            names = {letters for letters, _row in _REF.findall(data)}
            widest = max((column_index_from_string(c.decode()) for c in names), default=0)
            if widest <= self.max_column:
                return False  # `r="` followed by something that is not a reference
            self.max_column = widest
            self._beyond = self._pattern()
        return True

    def _rows(self) -> None:
        """The first value's row and the last one's (rows without cells are not counted)."""
        first = _ROW.search(self.head)
        self.first_row = 1 if first is None else min(int(first[1]), 1)
        last = [int(row) for row in _ROW.findall(self.tail)]
        self.last_row = max(last, default=0)
        refs = [int(row) for _letters, row in _REF.findall(self.tail)]
        self.last_row = max(self.last_row, max(refs, default=0))

    def _pattern(self) -> re.Pattern[bytes]:
        """`r="` followed by anything but a row number or a column up to `max_column`."""
        within = _not_greater(_letters(self.max_column))
        return re.compile(rb'r="(?!(?:' + within + rb")[0-9]|[0-9])")


def _unplaced_cell(data: bytes, end: int) -> bool:
    """Whether a cell starting before `end` has no `r="` reference first: calamine places
    such a cell after the one before it, so a row of thousands of bare `<c/>` reaches a far
    column no reference names. Prefixed (`<x:c`) and oddly spaced cells count as unplaced."""
    if b"<c>" in data or b"<c/>" in data or (b":c" in data and _PREFIXED_CELL.search(data)):
        return True
    end = max(end, 0)
    if _SPACED_CELL.search(data, 0, end + 3) is not None:
        return True
    # Every `<c ` that starts before `end` is followed by `r="`.
    return data.count(b"<c ", 0, end + 3) != data.count(b'<c r="', 0, end + 6)


def _inflated(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Iterator[bytes]:
    """The part's bytes, decompressed a bounded step at a time."""
    file = archive.fp
    if file is None or info.flag_bits & 1:  # closed, or encrypted
        raise zipfile.BadZipFile("unreadable part")
    file.seek(info.header_offset)
    header = file.read(30)
    if len(header) != 30 or header[:4] != b"PK\x03\x04":
        raise zipfile.BadZipFile("bad local header")
    name_length, extra_length = struct.unpack("<HH", header[26:30])
    file.seek(info.header_offset + 30 + name_length + extra_length)
    remaining = info.compress_size
    if info.compress_type == zipfile.ZIP_STORED:
        while remaining > 0 and (data := file.read(min(_OUTPUT, remaining))):
            remaining -= len(data)
            yield data
        return
    if info.compress_type != zipfile.ZIP_DEFLATED:
        raise zipfile.BadZipFile("unsupported compression")
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    while remaining > 0 and (data := file.read(min(_INPUT, remaining))):
        remaining -= len(data)
        while data:
            chunk = inflater.decompress(data, _OUTPUT)
            data = inflater.unconsumed_tail
            if chunk:
                yield chunk
        if inflater.eof:
            return


def _not_greater(letters: str) -> bytes:
    """A pattern for column names up to `letters` ("" matches none)."""
    if not letters:
        return b"(?!)"
    options = [f"[A-Z]{{1,{len(letters) - 1}}}"] if len(letters) > 1 else []
    for place, char in enumerate(letters):
        following = len(letters) - place - 1
        if char != "A":
            options.append(f"{letters[:place]}[A-{chr(ord(char) - 1)}][A-Z]{{{following}}}")
    options.append(letters)
    return "|".join(options).encode()


def _letters(column: int) -> str:
    """Column 4 -> "D"; 0 (none yet) -> "", which every column name is past."""
    letters = ""
    while column > 0:
        column, remainder = divmod(column - 1, 26)
        letters = chr(ord("A") + remainder) + letters
    return letters


def _shared_text(archive: zipfile.ZipFile, part: str) -> tuple[int, int]:
    """The longest entry of the shared strings table in XML bytes (at least its text's
    UTF-8 length: markup and escapes only add), and the table's size."""
    longest = 0
    running = 0  # bytes of the entry that runs on from the windows before
    with archive.open(part) as stream:
        while chunk := stream.read(_SAMPLE):
            pieces = chunk.split(b"<si")
            if len(pieces) == 1:
                running += len(chunk)
                continue
            longest = max(longest, running + len(pieces[0]), max(map(len, pieces[1:-1]), default=0))
            running = len(pieces[-1])
    return max(longest, running), archive.getinfo(part).file_size
