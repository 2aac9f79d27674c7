"""A row the table refuses for a reason of its own fails the import, and nothing is kept."""

from __future__ import annotations

import uuid

from sqlalchemy import MetaData, func, select
from sqlmodel import Field

from jobs_ui.datasets import RowFields, registry
from jobs_ui.db import make_engine, migrate
from jobs_ui.files import DataFiles
from jobs_ui.jobs.execution import execute_job
from jobs_ui.jobs.store import JobStore
from jobs_ui.models import JobKind, JobStatus


class TagFields(RowFields):
    # Its own metadata: the app's (which migrations must match) never sees this test table.
    metadata = MetaData()

    code: str = Field(min_length=1, max_length=20)
    label: str = Field(min_length=1, max_length=50)


class Tag(TagFields, table=True):
    __tablename__ = "constraint_test_tags"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=20, unique=True)
    label: str = Field(max_length=50, unique=True)  # a second unique column


def test_a_second_unique_column_refusing_a_row_fails_the_import_whole(tmp_path, monkeypatch):
    # Registered for this test only: the pages of other tests list the registry's datasets.
    monkeypatch.setattr(registry, "_datasets", dict(registry._datasets))
    registry.register("constraint_test_tags", fields=TagFields, table=Tag, key="code")
    engine = make_engine(f"sqlite:///{tmp_path / 'data.sqlite'}")
    migrate(engine)
    Tag.__table__.create(engine)  # type: ignore[attr-defined]
    files = DataFiles(tmp_path / "data")
    files.prepare()
    store = JobStore(engine)
    upload = files.upload_path(uuid.uuid4(), "tags.csv")
    upload.parent.mkdir(parents=True)
    upload.write_text("code,label\nA,N\nB,N\nB,M\n")  # B repeats A's label, then its own code
    params = {"upload": files.relative(upload), "format": "csv", "fileName": "tags.csv"}
    job = store.create(
        kind=JobKind.IMPORT, dataset="constraint_test_tags", owner="t", params=params
    )

    done = execute_job(job.id, store=store, engine=engine, files=files)

    assert done is not None and done.status is JobStatus.FAILED
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(Tag.__table__)) == 0
