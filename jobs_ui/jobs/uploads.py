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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, func
from sqlmodel import Field, Session, SQLModel, col, select

from jobs_ui.files import DataFiles
from jobs_ui.models import as_utc, timestamp_field, utc_now

log = logging.getLogger(__name__)

UPLOAD_TTL = timedelta(hours=24)

RoomCheck = Callable[[Session, str, int], None]
"""(session, owner, bytes to add): raises to refuse an upload; see `UploadStore.add`."""


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
    # The import whose file this is again (to map its columns after it failed), if any.
    source_job: uuid.UUID | None = None


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
    source_job: uuid.UUID | None = None


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
        room: RoomCheck | None = None,
        created_at: datetime | None = None,
        source_job: uuid.UUID | None = None,
    ) -> Upload:
        """Record an upload. `room` is called in the same transaction, before the insert
        (holding the owner's lock), to refuse one that would pass a limit: two requests
        racing cannot then both pass it. `created_at`: when it was first uploaded (an
        upload handed back keeps its age)."""
        row = InspectedUpload(
            id=upload_id,
            owner=owner,
            dataset=dataset,
            file_name=file_name[:255],
            format=file_format,
            path=path,
            size_bytes=size_bytes,
            created_at=created_at or utc_now(),
            source_job=source_job,
        )
        with Session(self.engine) as session:
            if room is not None:
                room(session, owner, size_bytes)
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

    def waiting_from(self, job_id: uuid.UUID, *, owner: str) -> Upload | None:
        """`owner`'s waiting upload of an earlier import's file, if one is not expired."""
        with Session(self.engine) as session:
            row = session.exec(
                select(InspectedUpload).where(
                    InspectedUpload.source_job == job_id, InspectedUpload.owner == owner
                )
            ).first()
        return self.get(row.id, owner=owner) if row is not None else None

    def take(self, upload_id: uuid.UUID) -> bool:
        """Mark the upload used (its row goes); False if another import took it first."""
        with Session(self.engine) as session:
            result = session.execute(
                delete(InspectedUpload).where(col(InspectedUpload.id) == upload_id)
            )
            session.commit()
        return bool(result.rowcount)  # type: ignore[attr-defined]  # a CursorResult

    def count_of(self, owner: str, session: Session | None = None) -> int:
        """How many uploads of `owner` wait (in `session`'s transaction, when given)."""
        if session is not None:
            return _count_of(session, owner)
        with Session(self.engine) as own:
            return _count_of(own, owner)

    def sweep(self, *, now: datetime | None = None) -> int:
        """Delete the uploads no import took within `UPLOAD_TTL`; returns how many.

        Each row goes by a conditional delete before its folder: an import taking the
        upload at the same moment (`take`) wins or loses the row as a whole, and a folder
        is removed only by whoever removed its row."""
        cutoff = (now or utc_now()) - UPLOAD_TTL
        with Session(self.engine) as session:
            old = session.exec(
                select(InspectedUpload.id).where(col(InspectedUpload.created_at) < cutoff)
            ).all()
        swept = 0
        for upload_id in old:
            if self.take(upload_id):
                shutil.rmtree(self.files.inspected_dir(upload_id), ignore_errors=True)
                swept += 1
        if swept:
            log.info("deleted %d inspected uploads no import used", swept)
        return swept


def _count_of(session: Session, owner: str) -> int:
    return int(session.exec(select(func.count()).where(InspectedUpload.owner == owner)).one())


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
        source_job=row.source_job,
    )
