"""How an import treats a row whose key the dataset table may already hold."""

from __future__ import annotations

from enum import StrEnum


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
