"""The base of every dataset's fields model: how one row of a file is read."""

from __future__ import annotations

from pydantic import ConfigDict
from sqlmodel import SQLModel


class RowFields(SQLModel):
    """Shared validation settings for imported rows."""

    # Spreadsheets and JSON hand over phone numbers and SKUs as numbers: take them as text.
    # (SQLModel types model_config as its own TypedDict, a superset of pydantic's ConfigDict.)
    model_config = ConfigDict(str_strip_whitespace=True, coerce_numbers_to_str=True)  # type: ignore[assignment]
