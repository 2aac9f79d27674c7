"""A migrated database per test, on SQLite and on PostgreSQL (one database per module,
emptied between tests): claims and leases are SQL whose behaviour under concurrency
differs between the two."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from jobs_ui.db import make_engine, migrate
from jobs_ui.migrations.scope import own_tables
from tests.support.services import migrated_database, require_postgres


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    require_postgres()
    with migrated_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        made = make_engine(f"sqlite:///{tmp_path / 'jobs.db'}")
        migrate(made)
    else:
        made = make_engine(request.getfixturevalue("postgres_url"))
        with made.begin() as connection:
            tables = ", ".join(sorted(own_tables()))
            connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY"))
    try:
        yield made
    finally:
        made.dispose()
