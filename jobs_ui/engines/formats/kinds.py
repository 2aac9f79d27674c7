"""The file formats, and telling a file's format from its name."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path


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
