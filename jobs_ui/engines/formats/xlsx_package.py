"""A workbook's package before any sheet is read: its worksheets, and what loading one costs.

Loading a sheet whole (calamine) is an order of magnitude faster than streaming it
(openpyxl), but holds every cell at once, and as a dense rectangle: two cells, A1 and
XFD1048576, make a range of 17 billion. So the cost is estimated from the sheet's XML before
anything is loaded, in one pass over the decompressed part that does a few byte searches per
megabyte (the part's declared size, or its `<dimension>`, could be anything):

- the cells with a value (`<v>`, `<is>`) each cost a sparse entry, and its text;
- the rectangle is as tall and wide as the largest row number and column any `r="..."`
  names; each 1 MB window is searched only for references past the largest seen so far,
  and exactly measured when one is found (rare: rows come in order);
- a shared-text cell costs a copy of its text, at most the longest one in the table.

A sheet written in a form the search does not follow (references in single quotes, spaces
around "=") is counted as too large: it is then streamed, which is slower but always fits.
So is a sheet holding error cells (#N/A...): calamine reads them as blanks, openpyxl as
their text, and both readers must give the same rows.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from dataclasses import dataclass

from openpyxl.packaging.manifest import Manifest
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

# Measured on calamine 0.9.1 (peak RSS while loading): a cell with a value costs a 40-byte
# sparse entry while the sheet is read, then a 32-byte slot in the dense range; a text
# allocation costs at least 32 bytes. Rounded up.
SPARSE_CELL_BYTES = 48
DENSE_CELL_BYTES = 32
TEXT_OVERHEAD_BYTES = 32
MIN_CELL_MARKUP = len('<c r="A1"><v></v></c>')  # what every value cell spends on markup
NOT_FOLLOWED = 1 << 62  # the estimate of a sheet the search cannot vouch for

_WINDOW = 1024 * 1024
_OVERLAP = 64  # longer than any reference, so none is missed at a window's edge
_REF = re.compile(rb' r="([A-Z]{0,3})(\d+)"')
_LAST_ROW = re.compile(rb'<row r="(\d+)"')
# Reference forms quick-xml reads that the searches above would not see (besides "=" not
# followed by a double quote), and error cells.
_UNFOLLOWED = (b" =", b"\tr=", b"\nr=", b't="e"')


@dataclass(frozen=True, slots=True)
class Package:
    sheets: list[str]
    """Every worksheet's name, in workbook order (chart sheets have no rows)."""
    parts: dict[str, str]
    """Worksheet name -> its part in the zip."""
    strings: str | None
    """The shared strings part, if any."""


def read_package(archive: zipfile.ZipFile) -> Package:
    """The worksheets as openpyxl finds them (content types, workbook, relationships)."""
    manifest = Manifest.from_tree(fromstring(archive.read(ARC_CONTENT_TYPES)))
    workbook_part = ARC_WORKBOOK
    strings: str | None = None
    for part in manifest.Override:
        if part.ContentType in (XLSX, XLSM, XLTX, XLTM):
            workbook_part = part.PartName[1:]
        elif part.ContentType == SHARED_STRINGS:
            strings = part.PartName[1:]
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
    return Package(sheets=list(parts), parts=parts, strings=strings)


def estimated_bytes(archive: zipfile.ZipFile, part: str, strings: str | None) -> int:
    """An upper bound on the memory calamine needs to load this sheet (see the module)."""
    scan = _SheetScan()
    with archive.open(part) as stream:
        tail = b""
        while chunk := stream.read(_WINDOW):
            if not scan.window(tail + chunk, len(tail)):
                return NOT_FOLLOWED
            tail = chunk[-_OVERLAP:]
    xml_bytes = archive.getinfo(part).file_size
    cells = scan.cells
    total = SPARSE_CELL_BYTES * cells + DENSE_CELL_BYTES * scan.max_row * scan.max_column
    total += TEXT_OVERHEAD_BYTES * cells + max(0, xml_bytes - MIN_CELL_MARKUP * cells)
    if scan.shared_cells and strings is not None:
        longest, table = _longest_shared_text(archive, strings)
        total += scan.shared_cells * (longest + TEXT_OVERHEAD_BYTES) + 2 * table
    return total


class _SheetScan:
    """Counts and extents gathered window by window; each window starts with the last
    `_OVERLAP` bytes of the one before, which are not counted twice."""

    def __init__(self) -> None:
        self.cells = 0
        self.shared_cells = 0
        self.max_row = 0
        self.max_column = 0
        self._beyond = self._pattern()

    def window(self, data: bytes, repeated: int) -> bool:
        """Take in one window; False when it holds a form the searches do not follow."""
        head = data[:repeated]
        # An "=" ending the window is checked in the next, which repeats it.
        quoted = data.count(b"=", 0, len(data) - 1) == data.count(b'="')
        if not quoted or any(form in data for form in _UNFOLLOWED):
            return False
        self.cells += _new(data, head, b"<v") + _new(data, head, b"<is")
        self.shared_cells += _new(data, head, b't="s"')
        last = data.rfind(b'<row r="')
        if last >= 0 and (found := _LAST_ROW.match(data, last)) is not None:
            self._grow(int(found[1]), self.max_column)
        if self._beyond.search(data) is not None:
            # A reference past the extent so far: measure this window exactly.
            rows = [int(row) for _letters, row in _REF.findall(data)]
            columns = {letters for letters, _row in _REF.findall(data) if letters}
            widest = max((column_index_from_string(c.decode()) for c in columns), default=0)
            self._grow(max(rows, default=0), widest)
        return True

    def _grow(self, row: int, column: int) -> None:
        if row > self.max_row or column > self.max_column:
            self.max_row = max(self.max_row, row)
            self.max_column = max(self.max_column, column)
            self._beyond = self._pattern()

    def _pattern(self) -> re.Pattern[bytes]:
        """References naming a row past `max_row` or a column past `max_column`."""
        rows = _greater(str(self.max_row), "0-9")
        columns = _greater(_letters(self.max_column), "A-Z")
        return re.compile(rb' r="(?:(?:' + columns + rb")[0-9]|[A-Z]{0,3}(?:" + rows + rb')")')


def _new(data: bytes, head: bytes, needle: bytes) -> int:
    """Occurrences of `needle` that end past the repeated head of the window."""
    return data.count(needle) - head.count(needle)


def _greater(text: str, alphabet: str) -> bytes:
    """A pattern for strings over `alphabet` ("0-9" or "A-Z") that are larger than `text`,
    ordered as numbers or column names are: longer is larger, then place by place."""
    low, high = alphabet.split("-")
    one = f"[{low}-{high}]"
    options = [f"{one}{{{len(text) + 1},}}"]
    for place, char in enumerate(text):
        if char != high:
            following = len(text) - place - 1
            options.append(f"{text[:place]}[{chr(ord(char) + 1)}-{high}]{one}{{{following}}}")
    return "|".join(options).encode()


def _letters(column: int) -> str:
    """Column 4 -> "D"; 0 (none yet) -> "", which every column name is past."""
    letters = ""
    while column > 0:
        column, remainder = divmod(column - 1, 26)
        letters = chr(ord("A") + remainder) + letters
    return letters


def _longest_shared_text(archive: zipfile.ZipFile, part: str) -> tuple[int, int]:
    """The longest entry of the shared strings table in XML bytes (at least its text's
    UTF-8 length: markup and escapes only add), and the table's size."""
    longest = 0
    running = 0  # bytes of the entry that runs on from the windows before
    with archive.open(part) as stream:
        while chunk := stream.read(_WINDOW):
            pieces = chunk.split(b"<si")
            if len(pieces) == 1:
                running += len(chunk)
                continue
            longest = max(longest, running + len(pieces[0]), max(map(len, pieces[1:-1]), default=0))
            running = len(pieces[-1])
    return max(longest, running), archive.getinfo(part).file_size
