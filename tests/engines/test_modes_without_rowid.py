"""A developer's SQLite table made WITHOUT ROWID: upsert and undo still record and restore."""

from __future__ import annotations

import uuid

from sqlalchemy import MetaData, text
from sqlmodel import Field

from jobs_ui.datasets import RowFields, registry
from jobs_ui.db import make_engine, migrate
from jobs_ui.files import DataFiles
from jobs_ui.jobs.execution import execute_job
from jobs_ui.jobs.store import JobStore
from jobs_ui.models import JobKind, JobStatus


class CodeFields(RowFields):
    metadata = MetaData()  # its own: the app's migrations never see this test table

    code: str = Field(min_length=1, max_length=20)
    label: str = Field(min_length=1, max_length=50)


class Code(CodeFields, table=True):
    __tablename__ = "without_rowid_codes"
    __table_args__ = {"sqlite_with_rowid": False}

    code: str = Field(max_length=20, primary_key=True)


def test_upsert_and_undo_on_a_table_without_rowids(tmp_path, monkeypatch):
    monkeypatch.setattr(registry, "_datasets", dict(registry._datasets))
    registry.register("without_rowid_codes", fields=CodeFields, table=Code, key="code")
    engine = make_engine(f"sqlite:///{tmp_path / 'data.sqlite'}")
    migrate(engine)
    Code.__table__.create(engine)  # type: ignore[attr-defined]
    with engine.connect() as connection:
        ddl = connection.scalar(
            text("SELECT sql FROM sqlite_master WHERE name = 'without_rowid_codes'")
        )
    assert "WITHOUT ROWID" in ddl
    files = DataFiles(tmp_path / "data")
    files.prepare()
    store = JobStore(engine)

    def run(body: str, **params: object):
        job_id = uuid.uuid4()
        upload = files.upload_path(job_id, "codes.csv")
        upload.parent.mkdir(parents=True)
        upload.write_text("code,label\n" + body)
        base = {"upload": files.relative(upload), "format": "csv", "fileName": "codes.csv"}
        job = store.create(
            kind=JobKind.IMPORT,
            dataset="without_rowid_codes",
            owner="t",
            job_id=job_id,
            params={**base, **params},
        )
        return execute_job(job.id, store=store, engine=engine, files=files)

    def rows():
        with engine.connect() as connection:
            return connection.execute(
                text("SELECT code, label FROM without_rowid_codes ORDER BY code")
            ).all()

    run("A,one\nB,two\n")
    before = rows()
    done = run("A,one\nB,TWO\nC,three\n", mode="upsert")
    assert done is not None and done.status is JobStatus.COMPLETED, done and done.error
    assert (done.result["createdCount"], done.result["updatedCount"]) == (1, 1)
    undo = store.create(
        kind=JobKind.IMPORT, dataset="without_rowid_codes", owner="t", params={}, undo_of=done.id
    )
    undone = execute_job(undo.id, store=store, engine=engine, files=files)
    assert undone is not None and undone.status is JobStatus.COMPLETED, undone.error
    assert (undone.result["deletedCount"], undone.result["restoredCount"]) == (1, 1)
    assert rows() == before
