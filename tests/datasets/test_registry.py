"""Registering a dataset: its key must be unique in its table, since imports rely on it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import (
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    inspect,
    text,
)
from sqlmodel import Field, SQLModel

from jobs_ui.datasets import DatasetRegistry, RowFields
from jobs_ui.datasets.registry import _is_unique as is_unique
from jobs_ui.datasets.shipped import Contact, ContactFields
from jobs_ui.datasets.tables import DatasetTableError, create_missing_tables
from jobs_ui.db import make_engine


def table(*extra):
    return Table(
        "t", MetaData(), Column("id", Integer, primary_key=True), Column("code", String), *extra
    )


def test_a_key_is_unique_through_a_column_flag_a_constraint_or_a_unique_index():
    assert not is_unique(table(), "code")
    assert is_unique(table(UniqueConstraint("code")), "code")
    assert is_unique(table(), "id")
    flagged = Table("f", MetaData(), Column("code", String, unique=True))
    assert is_unique(flagged, "code")
    indexed = table()
    Index("by_code", indexed.c.code, unique=True)
    assert is_unique(indexed, "code")


def test_registering_a_key_that_is_not_unique_says_how_to_fix_it():
    with pytest.raises(ValueError, match=r"key 'name' must be unique.*Field\(unique=True\)"):
        DatasetRegistry().register("people", fields=ContactFields, table=Contact, key="name")


@pytest.fixture(scope="module")
def gadgets() -> Iterator[DatasetRegistry]:
    """A registry of one dataset whose table class lives only as long as the test (the
    rest of the suite compares the app's tables with its migrations)."""

    class GadgetFields(RowFields):
        code: str = Field(min_length=1)
        colour: str | None = None

    class Gadget(GadgetFields, table=True):
        id: int | None = Field(default=None, primary_key=True)
        code: str = Field(unique=True)

    registry = DatasetRegistry()
    registry.register("gadgets", fields=GadgetFields, table=Gadget, key="code")
    yield registry
    SQLModel.metadata.remove(registry.get("gadgets").sql_table)


def test_a_new_dataset_table_is_made_on_start(gadgets, tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'made.db'}")
    assert create_missing_tables(engine, gadgets) == ["gadget"]
    assert {c["name"] for c in inspect(engine).get_columns("gadget")} == {"id", "code", "colour"}
    assert create_missing_tables(engine, gadgets) == []  # there now: nothing to do


def test_a_table_without_a_column_of_the_model_stops_the_start(gadgets, tmp_path):
    """Else every import into it would fail halfway with a database error."""
    engine = make_engine(f"sqlite:///{tmp_path / 'stale.db'}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE gadget (id INTEGER PRIMARY KEY, code TEXT)"))
    with pytest.raises(DatasetTableError, match="no column colour"):
        create_missing_tables(engine, gadgets)


def test_a_name_registered_twice_is_refused_unless_replaced():
    """An extension must not take over a shipped dataset (and its table) by accident."""
    registry = DatasetRegistry()
    registry.register("contacts", fields=ContactFields, table=Contact, key="email")
    with pytest.raises(ValueError, match="registered already"):
        registry.register("contacts", fields=ContactFields, table=Contact, key="email")
    registry.register("contacts", fields=ContactFields, table=Contact, key="email", replace=True)
    assert registry.names() == ["contacts"]
