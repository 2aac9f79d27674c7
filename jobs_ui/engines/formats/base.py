"""What the format readers share: context-manager plumbing, renaming, progress, header checks."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Sequence
from types import TracebackType
from typing import IO, Self

from jobs_ui.engines.formats.rows import NamesFor, UnreadableFileError


class ReaderBase(ABC):
    """Shared context-manager plumbing for the format readers, and renaming by position."""

    _columns: list[str]
    _keys: tuple[str | None, ...] | None = None  # by position; None: the header names

    @property
    def columns(self) -> list[str]:
        """The header's names, in file order (a copy: renaming reads the reader's own)."""
        return list(self._columns)

    # What the file turned out to be (see RowReader); a format's reader sets its own.
    encoding: str | None = None
    delimiter: str | None = None
    sheets: list[str] | None = None
    sheet: str | None = None

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


class ByteProgress:
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
# Header checks shared by CSV and XLSX


def check_header(names: list[str], max_columns: int) -> list[str]:
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


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def is_blank_cell(value: object) -> bool:
    return value is None or value == ""
