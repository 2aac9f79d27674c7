"""Datetimes and wide decimals of a developer's dataset survive an import and an export,
on SQLite and on Postgres (the `services` fixture runs both)."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Column, DateTime, MetaData, Numeric, select
from sqlmodel import Field

from jobs_ui.datasets import RowFields, registry
from jobs_ui.jobs.execution import execute_job
from jobs_ui.models import Job, JobKind, JobStatus


class ReadingFields(RowFields):
    metadata = MetaData()  # its own: the app's migrations never see this test table

    code: str = Field(min_length=1, max_length=20)
    taken_at: datetime
    amount: Decimal = Field(max_digits=20, decimal_places=2)


class Reading(ReadingFields, table=True):
    __tablename__ = "column_type_test_readings"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=20, unique=True)
    taken_at: datetime = Field(sa_column=Column(DateTime, nullable=False))
    amount: Decimal = Field(sa_column=Column(Numeric(20, 2), nullable=False))


def run(services, kind: JobKind, params: dict) -> Job:
    job = services.store.create(kind=kind, dataset="readings", owner="t", params=params)
    done = execute_job(job.id, store=services.store, engine=services.engine, files=services.files)
    assert done is not None and done.status is JobStatus.COMPLETED, done and done.error
    return done


def test_datetimes_and_wide_decimals_round_trip(services, tmp_path, monkeypatch):
    monkeypatch.setattr(registry, "_datasets", dict(registry._datasets))
    registry.register("readings", fields=ReadingFields, table=Reading, key="code")
    table = Reading.__table__  # type: ignore[attr-defined]
    table.create(services.engine)
    try:
        upload = services.files.upload_path(uuid.uuid4(), "readings.csv")
        upload.parent.mkdir(parents=True)
        upload.write_text("code,taken_at,amount\nA,2026-05-17T09:30:05,12345678901234567.89\n")
        params = {"upload": services.files.relative(upload), "format": "csv"}
        assert run(services, JobKind.IMPORT, params).result["importedCount"] == 1
        with services.engine.connect() as connection:
            stored = connection.execute(select(table.c.taken_at, table.c.amount)).one()
        assert stored.taken_at == datetime(2026, 5, 17, 9, 30, 5)
        if services.engine.dialect.name == "postgresql":  # SQLite itself keeps only a float
            assert stored.amount == Decimal("12345678901234567.89")

        exported = run(services, JobKind.EXPORT, {"format": "csv"})
        content = services.files.export_path(exported.id, exported.result["fileName"]).read_text()
        (row,) = csv.DictReader(io.StringIO(content))
        assert row["taken_at"] == "2026-05-17 09:30:05"
        assert row["code"] == "A"
    finally:
        table.drop(services.engine)
