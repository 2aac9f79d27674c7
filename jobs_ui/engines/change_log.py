"""What an import changed, row by row: the record its undo works from.

One row per dataset row the import created or updated, written in the transaction that
writes the dataset rows (so no import is ever without its record): the row's key, its values
before (none for a created row) and after, as JSON of the dataset's columns. The undo
compares a row's values now with `after`: a row changed since is left as it is.
"""

from __future__ import annotations

import uuid

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel


class ImportChange(SQLModel, table=True):
    __tablename__ = "import_change"

    job_id: uuid.UUID = Field(primary_key=True)
    row_key: str = Field(sa_column=Column(Text, primary_key=True))
    before: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    after: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


TABLE = "import_change"
