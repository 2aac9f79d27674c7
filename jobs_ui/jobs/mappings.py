"""Remembered column mappings: the mapping a principal last used for a dataset and a file
with the same set of headers is suggested to them first next time (and to nobody else)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import datetime

from sqlalchemy import JSON, Column, Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel

from jobs_ui.models import timestamp_field, utc_now


class RememberedMapping(SQLModel, table=True):
    __tablename__ = "remembered_mapping"

    owner: str = Field(primary_key=True, max_length=128)
    dataset: str = Field(primary_key=True, max_length=64)
    headers_key: str = Field(primary_key=True, max_length=64)
    mapping: dict[str, str | None] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    updated_at: datetime = timestamp_field(required=True)


def headers_key(columns: Iterable[str]) -> str:
    """The same for the same set of headers, whatever their order."""
    joined = "\x1f".join(sorted(set(columns)))
    return hashlib.sha256(joined.encode("utf-8", "surrogatepass")).hexdigest()


class MappingMemory:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def recall(
        self, *, owner: str, dataset: str, columns: Iterable[str]
    ) -> dict[str, str | None] | None:
        with Session(self.engine) as session:
            row = session.get(RememberedMapping, (owner, dataset, headers_key(columns)))
            return dict(row.mapping) if row is not None else None

    def remember(
        self,
        *,
        owner: str,
        dataset: str,
        columns: Iterable[str],
        mapping: Mapping[str, str | None],
    ) -> None:
        key = (owner, dataset, headers_key(columns))
        for _attempt in range(2):  # two first imports of the same file may race to insert
            with Session(self.engine) as session:
                row = session.get(RememberedMapping, key)
                if row is None:
                    row = RememberedMapping(owner=owner, dataset=dataset, headers_key=key[2])
                row.mapping = dict(mapping)
                row.updated_at = utc_now()
                session.add(row)
                try:
                    session.commit()
                    return
                except IntegrityError:
                    session.rollback()
