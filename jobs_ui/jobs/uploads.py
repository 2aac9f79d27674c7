"""Files inspected but not yet imported: kept under an upload id, for their owner alone.

`POST /jobs/inspect` stores the file once and answers with its columns; the import that
follows names the upload id instead of sending the file again. An upload belongs to the
principal who sent it (anyone else is told it does not exist), is taken by the first import
that uses it (moved into that job's own folder), and is deleted after `UPLOAD_TTL` if no
import takes it.
"""

from __future__ import annotations

import logging
import shutil
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, func
from sqlmodel import Field, Session, SQLModel, col, select

from jobs_ui.files import DataFiles
from jobs_ui.models import as_utc, timestamp_field, utc_now

log = logging.getLogger(__name__)

UPLOAD_TTL = timedelta(hours=24)


class InspectedUpload(SQLModel, table=True):
    """One inspected file waiting for its import."""

    __tablename__ = "inspected_upload"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    owner: str = Field(max_length=128, index=True)
    dataset: str = Field(max_length=64)
    file_name: str = Field(max_length=255)
    format: str = Field(max_length=16)
    path: str = Field(max_length=512)  # relative to the data dir
    size_bytes: int = 0
    created_at: datetime = timestamp_field(required=True)


@dataclass(frozen=True)
class Upload:
    """An inspected upload as the commands use it."""

    id: uuid.UUID
    owner: str
    dataset: str
    file_name: str
    format: str
    path: str
    size_bytes: int
    created_at: datetime


class UploadStore:
    def __init__(self, engine: Engine, files: DataFiles) -> None:
        self.engine, self.files = engine, files

    def add(
        self,
        *,
        upload_id: uuid.UUID,
        owner: str,
        dataset: str,
        file_name: str,
        file_format: str,
        path: str,
        size_bytes: int,
    ) -> Upload:
        row = InspectedUpload(
            id=upload_id,
            owner=owner,
            dataset=dataset,
            file_name=file_name[:255],
            format=file_format,
            path=path,
            size_bytes=size_bytes,
        )
        with Session(self.engine) as session:
            session.add(row)
            session.commit()
            session.refresh(row)
            return _upload(row)

    def get(self, upload_id: uuid.UUID, *, owner: str | None) -> Upload | None:
        """The upload if it exists, is not expired and belongs to `owner` (None: anyone's)."""
        with Session(self.engine) as session:
            row = session.get(InspectedUpload, upload_id)
        if row is None or (owner is not None and row.owner != owner):
            return None
        if as_utc(row.created_at) < utc_now() - UPLOAD_TTL:
            return None
        return _upload(row)

    def take(self, upload_id: uuid.UUID) -> bool:
        """Mark the upload used (its row goes); False if another import took it first."""
        with Session(self.engine) as session:
            result = session.execute(
                delete(InspectedUpload).where(col(InspectedUpload.id) == upload_id)
            )
            session.commit()
        return bool(result.rowcount)  # type: ignore[attr-defined]  # a CursorResult

    def count_of(self, owner: str) -> int:
        with Session(self.engine) as session:
            return int(
                session.exec(select(func.count()).where(InspectedUpload.owner == owner)).one()
            )

    def bytes_of(self, owner: str) -> int:
        """What the owner's waiting uploads take on disk (they count against the quota)."""
        with Session(self.engine) as session:
            total = session.exec(
                select(func.coalesce(func.sum(InspectedUpload.size_bytes), 0)).where(
                    InspectedUpload.owner == owner
                )
            ).one()
        return int(total)

    def sweep(self, *, now: datetime | None = None) -> int:
        """Delete the uploads no import took within `UPLOAD_TTL`; returns how many."""
        cutoff = (now or utc_now()) - UPLOAD_TTL
        with Session(self.engine) as session:
            old = session.exec(
                select(InspectedUpload).where(col(InspectedUpload.created_at) < cutoff)
            ).all()
            for row in old:
                shutil.rmtree(self.files.inspected_dir(row.id), ignore_errors=True)
                session.delete(row)
            session.commit()
        if old:
            log.info("deleted %d inspected uploads no import used", len(old))
        return len(old)


def _upload(row: InspectedUpload) -> Upload:
    return Upload(
        id=row.id,
        owner=row.owner,
        dataset=row.dataset,
        file_name=row.file_name,
        format=row.format,
        path=row.path,
        size_bytes=row.size_bytes,
        created_at=as_utc(row.created_at),
    )
