"""Registering a dataset: its key must be unique in its table, since imports rely on it."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, Index, Integer, MetaData, String, Table, UniqueConstraint

from jobs_ui.datasets import DatasetRegistry
from jobs_ui.datasets.registry import _is_unique as is_unique
from jobs_ui.datasets.shipped import Contact, ContactFields


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
