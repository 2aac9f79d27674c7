"""The tables of registered datasets, created on start when the database lacks them.

The shipped tables come with the schema migrations. A developer's new dataset should work
on its first start without a migration written by hand, so a table no migration made is
created from its model. Creating never alters what is there: the app's migrations manage
its own tables alone (jobs_ui/migrations/scope.py), so a change to the columns of a
developer's existing table is theirs to make; a table that lacks a column stops the start.
"""

from __future__ import annotations

import logging

from sqlalchemy import Engine, inspect
from sqlalchemy.exc import SQLAlchemyError

from jobs_ui.datasets.registry import DatasetRegistry

log = logging.getLogger(__name__)


class DatasetTableError(RuntimeError):
    """A dataset's table exists without the columns its model needs."""


def create_missing_tables(engine: Engine, registry: DatasetRegistry) -> list[str]:
    """Create the registered datasets' tables that do not exist yet; their names.

    A table that exists must have every column its model has: else each import into it
    would fail halfway with a database error, so the app refuses to start and says which.
    """
    inspector = inspect(engine)
    missing = []
    for dataset in registry:
        table = dataset.sql_table
        if not inspector.has_table(table.name, schema=table.schema):
            missing.append(table)
            continue
        present = {column["name"] for column in inspector.get_columns(table.name, table.schema)}
        absent = [column.name for column in table.columns if column.name not in present]
        if absent:
            raise DatasetTableError(
                f"Dataset {dataset.name!r}: its table {table.name!r} has no column "
                f"{', '.join(absent)}. Add them to the table (a migration of yours, or "
                f"ALTER TABLE), or rename the table in the model to start a new one."
            )
    if not missing:
        return []
    metadata = missing[0].metadata
    try:
        metadata.create_all(engine, tables=missing)
    except SQLAlchemyError:
        # Another backend process starting at the same moment made them first; what is
        # still missing now is a real failure, and the second try raises it.
        metadata.create_all(engine, tables=missing, checkfirst=True)
    names = [table.name for table in missing]
    log.info("created the tables of new datasets: %s", ", ".join(names))
    return names
