"""What every reader gives its caller: rows, the `RowReader` protocol, and file-level errors."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, Self

NOT_TEXT = "This file is not a text file. Please upload a CSV or text export of your data."
EMPTY = "The file is empty."


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

    @property
    def encoding(self) -> str | None:
        """The text encoding read (text files), or None."""
        ...

    @property
    def delimiter(self) -> str | None:
        """The cell delimiter (delimited text), or None."""
        ...

    @property
    def sheets(self) -> list[str] | None:
        """A workbook's sheet names in workbook order, or None for a text file."""
        ...

    @property
    def sheet(self) -> str | None:
        """The sheet being read (workbooks), or None."""
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
