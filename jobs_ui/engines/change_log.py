"""What an import changed, row by row: the record its undo works from.

One row per dataset row the import created or updated, written in the transaction that
writes the dataset rows (so no import is ever without its record): the row's key, its values
before (none for a created row) and after, as JSON of the dataset's columns. The undo
compares a row's values now with `after`: a row changed since is left as it is.
"""

from __future__ import annotations

import uuid

from sqlalchemy import BigInteger, Column, Index, Integer, Text
from sqlmodel import Field, SQLModel


class ImportChange(SQLModel, table=True):
    __tablename__ = "import_change"
    # Rows are found by job, then joined to the dataset table by key. An index on the job
    # alone takes a million rows of one import in order; one on (job, key) would take them
    # in key order, several times slower. Keys are unique per job by construction.
    __table_args__ = (Index("ix_import_change_job_id", "job_id"),)

    id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
    )
    job_id: uuid.UUID
    row_key: str = Field(sa_column=Column(Text, nullable=False))
    before: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    after: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


TABLE = "import_change"
