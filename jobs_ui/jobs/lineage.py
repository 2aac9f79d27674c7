"""How imports follow one another: a dry run and its commit, an import and its undo.

Asked by the commands before they start a commit or an undo, and by the sweep that forgets
old imports' records of what they changed (they follow the files' retention).
"""

from __future__ import annotations

import uuid

from sqlalchemy import Engine, delete, func
from sqlmodel import Session, col, select

from jobs_ui.engines.change_log import ImportChange
from jobs_ui.models import Job, JobStatus

_UNDER_WAY = (JobStatus.PENDING, JobStatus.PROCESSING, JobStatus.COMPLETED)


class JobLineage:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def commit_of(self, dry_run: uuid.UUID) -> Job | None:
        """The job that commits this dry run (the first, if a retry followed it)."""
        query = select(Job).where(Job.commit_of == dry_run).order_by(col(Job.created_at))
        with Session(self.engine, expire_on_commit=False) as session:
            return session.exec(query.limit(1)).first()

    def commit_under_way(self, dry_run: uuid.UUID) -> Job | None:
        """A commit of this dry run (or a retry of one) that has not failed or been cancelled."""
        query = select(Job).where(Job.commit_of == dry_run, col(Job.status).in_(_UNDER_WAY))
        with Session(self.engine, expire_on_commit=False) as session:
            return session.exec(query.limit(1)).first()

    def undo_under_way(self, import_id: uuid.UUID) -> Job | None:
        """An undo of this import that has not failed or been cancelled."""
        query = select(Job).where(Job.undo_of == import_id, col(Job.status).in_(_UNDER_WAY))
        with Session(self.engine, expire_on_commit=False) as session:
            return session.exec(query.limit(1)).first()

    def fixes_of(self, import_id: uuid.UUID) -> list[Job]:
        """The imports of this import's skipped rows, fixed, oldest first."""
        query = select(Job).where(Job.fix_of == import_id).order_by(col(Job.created_at))
        with Session(self.engine, expire_on_commit=False) as session:
            return list(session.exec(query.limit(20)).all())

    def changes_recorded(self, import_id: uuid.UUID) -> int:
        """How many rows this import's record of changes holds (0 once forgotten)."""
        query = (
            select(func.count()).select_from(ImportChange).where(ImportChange.job_id == import_id)
        )
        with Session(self.engine) as session:
            return int(session.exec(query).one())

    def forget_changes(self, import_id: uuid.UUID) -> None:
        """Delete an import's record of changes: it can no longer be undone."""
        with Session(self.engine) as session:
            session.exec(delete(ImportChange).where(col(ImportChange.job_id) == import_id))
            session.commit()
