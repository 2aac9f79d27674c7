"""How an import treats a row whose key the dataset table may already hold."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jobs_ui.datasets import Dataset


class ImportMode(StrEnum):
    INSERT = "insert"
    """New keys are added; a row whose key exists is skipped (the default)."""
    UPSERT = "upsert"
    """New keys are added; existing rows are updated to the file's values."""
    UPDATE = "update"
    """Existing rows are updated; a row whose key is unknown is skipped."""

    @property
    def creates(self) -> bool:
        return self is not ImportMode.UPDATE

    @property
    def updates(self) -> bool:
        return self is not ImportMode.INSERT

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    ImportMode.INSERT: "Add new rows (skip rows whose key exists)",
    ImportMode.UPSERT: "Add new rows and update existing ones",
    ImportMode.UPDATE: "Only update existing rows",
}

UNKNOWN_KEY_PROBLEM = "no row with this key"
"""Why update mode skips a row whose key the table does not hold (the issue's wording)."""


def parse_mode(value: str | None) -> ImportMode:
    """The mode a request names ("insert" when it names none); ValueError with a sentence."""
    text = (value or "").strip().lower() or ImportMode.INSERT.value
    try:
        return ImportMode(text)
    except ValueError:
        known = ", ".join(mode.value for mode in ImportMode)
        raise ValueError(f"Unknown mode {text[:32]!r}: use one of {known}.") from None


@dataclass(frozen=True)
class KeyReason:
    """Why a row is skipped for its key: `problem` groups the rows (the summary, the filter
    of the rows to fix); each row's own sentence puts its key, or the row it repeats,
    between `prefix` and `suffix`."""

    problem: str
    prefix: str
    suffix: str

    def sentence(self, middle: str) -> str:
        return self.prefix + middle + self.suffix


def held_key(dataset: Dataset) -> KeyReason:
    """insert: the table holds the key already (the middle: the key, quoted)."""
    key, name = dataset.key, dataset.name
    return KeyReason(f"{key}: already exists in {name}", f"{key} ", f" already exists in {name}")


def unknown_key(dataset: Dataset) -> KeyReason:
    """update: the table does not hold the key (the middle: the key, quoted)."""
    key = dataset.key
    return KeyReason(
        UNKNOWN_KEY_PROBLEM, f"No row with this key: {key} ", f" is not in {dataset.name}"
    )


def repeated_key(dataset: Dataset) -> KeyReason:
    """An earlier row of the file has the key (the middle: that row's number)."""
    key = dataset.key
    return KeyReason(
        f"Duplicate {key}: the same {key} is in an earlier row of this file",
        f"Duplicate {key}: same as row ",
        " of this file",
    )
