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
from jobs_ui.migrations.scope import is_the_apps_own


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


def test_a_table_the_app_does_not_own_is_never_dropped_or_altered(tmp_path: Path):
    """An extension's dataset table, made on start, is in the database but not in the app's
    migrations: autogenerating one must leave it alone (else the next start drops it)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'extended.db'}")
    migrate(engine)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE book (id INTEGER PRIMARY KEY, isbn TEXT)"))
    with engine.connect() as connection:
        unfiltered = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
        filtered = compare_metadata(
            MigrationContext.configure(connection, opts={"include_object": is_the_apps_own}),
            SQLModel.metadata,
        )
    assert any(diff[0] == "remove_table" and diff[1].name == "book" for diff in unfiltered)
    assert filtered == []
