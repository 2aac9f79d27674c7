"""Schema migrations: a fresh database gets every table, and the models match the migrations."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlmodel import SQLModel

from jobs_ui import models
from jobs_ui.access import api_keys
from jobs_ui.datasets import shipped
from jobs_ui.db import make_engine, migrate


def test_fresh_database_gets_every_table_and_a_rerun_keeps_data(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    migrate(engine)
    assert {"job", "contacts", "products", "alembic_version"} <= set(
        inspect(engine).get_table_names()
    )
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO contacts (name, email) VALUES ('A', 'a@example.com')"))
    migrate(engine)  # an upgrade at the next start must keep what is there
    with engine.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM contacts")) == 1


def test_models_and_migrations_agree(tmp_path: Path):
    assert models.Job.__table__ in SQLModel.metadata.sorted_tables
    assert shipped.Contact.__table__ in SQLModel.metadata.sorted_tables
    assert api_keys.ApiKey.__table__ in SQLModel.metadata.sorted_tables
    engine = make_engine(f"sqlite:///{tmp_path / 'check.db'}")
    migrate(engine)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    assert differences == [], "a model changed without a migration: add one with alembic"
