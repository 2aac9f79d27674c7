"""Choices the forms offer, taken from the dataset registry."""

from __future__ import annotations

import jobs_ui.dataset_tables  # noqa: F401  (registers the shipped datasets)
from jobs_ui.datasets import registry

EXPORT_FORMATS = (("csv", "CSV"), ("jsonl", "JSON Lines"), ("xlsx", "Excel (XLSX)"))


def dataset_names() -> list[str]:
    return registry.names()


def default_dataset() -> str:
    names = registry.names()
    return names[0] if names else ""
