"""The dataset registry: what can be imported and exported.

A dataset is a fields model (a plain SQLModel that validates one row), a table class that
stores the rows, and the name of its unique key. Adding one is a pair of classes and a
`register(...)` line; see `jobs_ui/datasets/shipped.py` for the two shipped here.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, create_model, field_validator
from sqlalchemy import Index, Table, UniqueConstraint
from sqlmodel import SQLModel

from jobs_ui.datasets.fields import FieldSpec, field_specs


class UnknownDatasetError(LookupError):
    """Raised for a dataset name nobody registered."""


def plain_row_model(
    fields: type[SQLModel], left_out: frozenset[str] = frozenset()
) -> type[BaseModel]:
    """The same fields and validators as a plain pydantic model.

    A SQLModel validates one row about 4x slower than plain pydantic (it routes every
    attribute through its own hooks); an import validates millions, so it uses this copy.
    Fields in `left_out` are neither required nor checked: an update that does not write
    them (its mapping leaves them out) must not refuse a row for them.
    """
    validators = {}
    for name, decorator in fields.__pydantic_decorators__.field_validators.items():
        checked = [field for field in decorator.info.fields if field not in left_out]
        if checked:
            validators[name] = field_validator(*checked, mode=decorator.info.mode)(
                getattr(decorator.func, "__func__", decorator.func)
            )
    definitions: dict[str, Any] = {
        name: (Any, None) if name in left_out else (info.annotation, info)
        for name, info in fields.model_fields.items()
    }
    return create_model(
        f"{fields.__name__}Row",
        __config__=fields.model_config,
        __validators__=validators,
        **definitions,
    )


@functools.lru_cache(maxsize=64)
def _row_model_leaving_out(fields: type[SQLModel], left_out: frozenset[str]) -> type[BaseModel]:
    return plain_row_model(fields, left_out)


@dataclass(frozen=True)
class Dataset:
    name: str
    label: str
    fields: type[SQLModel]
    table: type[SQLModel]
    key: str
    columns: tuple[str, ...] = field(default=())
    row_model: type[BaseModel] = BaseModel
    specs: tuple[FieldSpec, ...] = field(default=())
    """What each column's field is, in `columns` order (for forms, templates, matching)."""

    @property
    def sql_table(self) -> Table:
        # SQLModel sets __table__ on table classes as they are made; its types do not say so.
        return self.table.__table__  # type: ignore[attr-defined,no-any-return]

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.specs if spec.required)

    def row_model_leaving_out(self, left_out: frozenset[str]) -> type[BaseModel]:
        """The row model with the fields in `left_out` neither required nor checked."""
        if not left_out:
            return self.row_model
        return _row_model_leaving_out(self.fields, left_out)


class DatasetRegistry:
    def __init__(self) -> None:
        self._datasets: dict[str, Dataset] = {}

    def register(
        self,
        name: str,
        *,
        fields: type[SQLModel],
        table: type[SQLModel],
        key: str,
        label: str | None = None,
        columns: tuple[str, ...] | None = None,
        replace: bool = False,
    ) -> Dataset:
        """Add a dataset. `columns` (import and export order) default to the fields model's.

        A name already registered is refused unless `replace=True`: an extension must not
        take over a shipped dataset (and its table) by accident."""
        if name in self._datasets and not replace:
            raise ValueError(f"Dataset {name!r} is registered already; pass replace=True")
        columns = columns or tuple(fields.model_fields)
        if key not in columns:
            raise ValueError(f"Dataset {name!r}: key {key!r} is not one of its columns")
        if not _is_unique(table.__table__, key):  # type: ignore[attr-defined]  # as sql_table
            # Imports rely on it: the database itself refuses a second row with the same key.
            raise ValueError(
                f"Dataset {name!r}: key {key!r} must be unique in its table; "
                f"declare it with Field(unique=True)"
            )
        dataset = Dataset(
            name=name,
            label=label or name.replace("_", " ").capitalize(),
            fields=fields,
            table=table,
            key=key,
            columns=columns,
            row_model=plain_row_model(fields),
            specs=field_specs(fields, columns),
        )
        self._datasets[name] = dataset
        return dataset

    def unregister(self, name: str) -> None:
        """Forget a dataset (its table stays): for tests and reloading code."""
        self._datasets.pop(name, None)

    def get(self, name: str) -> Dataset:
        try:
            return self._datasets[name]
        except KeyError:
            known = ", ".join(sorted(self._datasets)) or "none"
            raise UnknownDatasetError(
                f"Unknown dataset {name!r}. Known datasets: {known}."
            ) from None

    def __iter__(self) -> Iterator[Dataset]:
        return iter(self._datasets.values())

    def names(self) -> list[str]:
        return sorted(self._datasets)


def _is_unique(table: Table, key: str) -> bool:
    """Whether the table refuses two rows with the same value in column `key`."""
    column = table.c[key]
    if column.unique or (column.primary_key and len(table.primary_key.columns) == 1):
        return True
    candidates: list[UniqueConstraint | Index] = [
        *(c for c in table.constraints if isinstance(c, UniqueConstraint)),
        *(index for index in table.indexes if index.unique),
    ]
    return any([c.name for c in each.columns] == [key] for each in candidates)


registry = DatasetRegistry()
