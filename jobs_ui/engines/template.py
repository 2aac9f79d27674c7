"""A dataset's template: the file a person fills in to import into it.

The header row is the field names (so the filled-in file imports with no mapping) and one
row holds each field's example (empty where a field has none). It is written by the
export writers, so it reads exactly as an export would: UTF-8 CSV, or an Excel sheet with a
bold header, and formula-like text neutralised (the importer undoes that).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Literal

from jobs_ui.datasets import Dataset
from jobs_ui.engines.formats import FileFormat
from jobs_ui.engines.writers import write_rows

TemplateFormat = Literal["csv", "xlsx"]
TEMPLATE_FORMATS: tuple[TemplateFormat, ...] = ("csv", "xlsx")


def template_name(dataset: Dataset, file_format: TemplateFormat) -> str:
    return f"{dataset.name}-template.{file_format}"


def template_rows(dataset: Dataset) -> tuple[list[str], list[object]]:
    """The header (field names, in column order) and the example row."""
    return [spec.name for spec in dataset.specs], [spec.example for spec in dataset.specs]


def template_bytes(dataset: Dataset, file_format: TemplateFormat) -> bytes:
    """The template file's content (a few hundred bytes: built whole, in memory)."""
    header, example = template_rows(dataset)
    with tempfile.TemporaryDirectory(prefix="template-") as folder:
        path = Path(folder) / template_name(dataset, file_format)
        write_rows(path, FileFormat(file_format), header, [example])
        return path.read_bytes()
