"""Streaming readers for uploaded CSV, JSON Lines and Excel files.

Every reader yields one `RawRow` per data row and never holds more than a small
sample of the file in memory, so a million-row upload costs the same memory as
a ten-row one; nor more than a line, row or workbook part within `FileLimits` (see
`limits`), however the file is crafted. A row's values leave out blank cells (empty, or
null), and can be keyed by the caller's own names for the columns (`rename`), so a row is
ready to validate.
Problems with the file as a whole raise `UnreadableFileError`; problems with a single row
are reported on that row.

One module per idea: `kinds` (which format a file is), `rows` (what a reader yields and
raises), `dispatch` (`open_reader`), `base` (what the readers share), `encodings` (telling
and decoding a text file's encoding), one module per format (`csv`, `jsonl`, `xlsx`) and
`zip_guard` (refusing a workbook that unpacks to too much).
"""

from jobs_ui.engines.formats.csv import CSV_DELIMITERS
from jobs_ui.engines.formats.dispatch import open_reader
from jobs_ui.engines.formats.encodings import SAMPLE_SIZE
from jobs_ui.engines.formats.kinds import FileFormat, format_from_filename
from jobs_ui.engines.formats.rows import NamesFor, RawRow, RowReader, UnreadableFileError
from jobs_ui.engines.formats.zip_guard import MAX_UNPACKED_XML_BYTES

__all__ = [
    "CSV_DELIMITERS",
    "MAX_UNPACKED_XML_BYTES",
    "SAMPLE_SIZE",
    "FileFormat",
    "NamesFor",
    "RawRow",
    "RowReader",
    "UnreadableFileError",
    "format_from_filename",
    "open_reader",
]
