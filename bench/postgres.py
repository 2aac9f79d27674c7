"""A fresh PostgreSQL database for one measurement, and how a figure says a service is missing."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator

import psycopg

# The same service, and the same override, as the tests' (tests/support/services.py).
POSTGRES_ADMIN_URL = os.environ.get(
    "JOBS_UI_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"
)


class NotMeasured(Exception):
    """A service the figure needs does not answer; the figure says so instead of failing."""


@contextlib.contextmanager
def fresh_database() -> Iterator[str]:
    """A new database with the app's schema (as the tests' migrated_database); dropped after.

    Yields its SQLAlchemy URL (postgresql+psycopg://...)."""
    from jobs_ui.db import make_engine, migrate

    name = f"jobs_ui_bench_{uuid.uuid4().hex[:12]}"
    try:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=2) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as error:
        raise NotMeasured(f"PostgreSQL at {POSTGRES_ADMIN_URL} does not answer ({error})") from None
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    url = f"{base}/{name}"
    try:
        engine = make_engine(url)
        migrate(engine)
        engine.dispose()
        yield url
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=10) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
