"""Database engine and schema migrations."""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, Select, event, func, text
from sqlmodel import Session, create_engine, select

from jobs_ui.settings import get_settings

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

# A writer may wait this long for SQLite's single write lock before giving up. An import
# holds it while it saves its rows (about a second per million), so be generous.
SQLITE_BUSY_TIMEOUT_MS = 120_000

# Execution option: this transaction will write, so on SQLite take the write lock at BEGIN.
WRITE_LOCK_OPTION = "jobs_ui_write_lock"

# Postgres advisory lock key held while migrating (any constant unique to this app).
MIGRATION_LOCK = 7_302_514_001


def is_sqlite(engine: Engine | Connection) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str) -> Engine:
    """An engine tuned for many short transactions from threads and the event loop."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            pool_size=20,
            max_overflow=20,
        )
        event.listen(engine, "connect", _configure_sqlite)
        event.listen(engine, "begin", _begin_sqlite)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy emit BEGIN itself (see _begin_sqlite): the driver's own implicit BEGIN
    # only comes before the first write, leaving earlier reads outside the transaction.
    dbapi_connection.isolation_level = None
    # WAL lets readers (the status stream) read while a job writes; NORMAL sync is safe in WAL.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _begin_sqlite(connection: Connection) -> None:
    # A writer that reads before it writes (the import's key check) takes the write lock up
    # front, so two such writers queue instead of deadlocking on a lock upgrade.
    immediate = connection.get_execution_options().get(WRITE_LOCK_OPTION, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def begin_writing(session: Session) -> None:
    """Before the first statement of `session`'s transaction: it writes after it reads, so
    on SQLite it takes the write lock at BEGIN (see `_begin_sqlite`); no-op elsewhere."""
    session.connection(execution_options={WRITE_LOCK_OPTION: True})


def serialise_on(session: Session, key: str) -> None:
    """Within `session`'s transaction (before its first statement): wait for, and hold until
    it ends, the one lock named `key`, so a check and the write that follows it (a count
    under a limit) cannot race another such transaction. SQLite has one writer anyway (its
    lock taken at BEGIN); Postgres takes a transaction-scoped advisory lock on the key."""
    if is_sqlite(session.get_bind()):
        begin_writing(session)
    else:
        session.exec(select(func.pg_advisory_xact_lock(func.hashtext(key))))


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision; a fresh database gets every table.

    Several backend processes may start at once: on Postgres they take turns (an advisory
    lock), so only the first one migrates and the rest find the schema current.
    """
    with engine.connect() as connection:
        serialise = connection.dialect.name == "postgresql"
        if serialise:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
            connection.commit()
        try:
            config = alembic_config(engine)
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            connection.commit()
        finally:
            if serialise:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
                connection.commit()


def new_revision(message: str) -> None:
    """Write a migration for model changes (compared against the configured database)."""
    engine = make_engine(get_settings().sqlalchemy_url)
    migrate(engine)
    command.revision(alembic_config(engine), message=message, autogenerate=True)


def select_batches(
    connection: Connection, query: Select[Any], batch_size: int
) -> Generator[list[tuple[Any, ...]], None, None]:
    """Run a SELECT on the driver itself and yield its rows `batch_size` at a time, as tuples.

    The same SQL and value conversions SQLAlchemy would use (the dialect's own, chosen from
    the cursor's column types), without a Row object per row: for an export's millions of
    rows that overhead was a third of the time. Postgres gets a server-side cursor (SQLite's
    cursor streams anyway), so memory stays flat. Must run inside the connection's
    transaction (begin it first, e.g. with an earlier query).
    """
    dialect = connection.dialect
    compiled = query.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    params: Any = compiled.params
    if compiled.positiontup is not None:  # ? or %s placeholders: values in SQL order
        params = tuple(compiled.params[name] for name in compiled.positiontup)
    driver = connection.connection.driver_connection
    assert driver is not None
    cursor = (
        driver.cursor(name="jobs_ui_batches") if dialect.name == "postgresql" else driver.cursor()
    )
    try:
        cursor.execute(compiled.string, params)
        convert = row_converter(
            [
                column.type.dialect_impl(dialect).result_processor(dialect, described[1])
                for column, described in zip(
                    query.selected_columns, cursor.description, strict=True
                )
            ]
        )
        while batch := cursor.fetchmany(batch_size):
            yield batch if convert is None else [convert(row) for row in batch]
    finally:
        cursor.close()


def row_converter(
    processors: Sequence[Callable[[Any], Any] | None],
) -> Callable[[Sequence[Any]], tuple[Any, ...]] | None:
    """One function applying SQLAlchemy's per-column value processors to a row; None when no
    column has one (the common case, which then costs nothing per row)."""
    if not any(processors):
        return None

    def convert(row: Sequence[Any]) -> tuple[Any, ...]:
        return tuple(
            value if value is None or process is None else process(value)
            for process, value in zip(processors, row, strict=True)
        )

    return convert
