"""The tables of registered datasets, created on start when the database lacks them.

The shipped tables come with the schema migrations. A developer's new dataset should work
on its first start without a migration written by hand, so a table no migration made is
created from its model. Changing an existing table's columns still takes a migration
(`make migration m="..."`): creating never alters what is there.
"""

from __future__ import annotations

import logging

from sqlalchemy import Engine, inspect
from sqlalchemy.exc import SQLAlchemyError

from jobs_ui.datasets.registry import DatasetRegistry

log = logging.getLogger(__name__)


def create_missing_tables(engine: Engine, registry: DatasetRegistry) -> list[str]:
    """Create the registered datasets' tables that do not exist yet; their names."""
    existing = set(inspect(engine).get_table_names())
    missing = [d.sql_table for d in registry if d.sql_table.name not in existing]
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
