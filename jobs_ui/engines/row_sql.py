"""The SQL that compares, updates and records one dataset's rows, in SQLite's or Postgres's words.

Imports (every mode, and dry runs) and undos say the same things in both databases: "the rows
of the file whose key the table holds", "those whose mapped values differ", "the row as JSON".
This module is the one place that knows how each database spells them, so the engines that
use it read the same for both.

Rows are compared as the database compares them (SQLite with its column affinities, so the
text "0.35" a file gave equals the stored number 0.35; Postgres typed), and recorded as JSON
of the dataset's columns made by the database itself, so the same values give the same text.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Uuid
from sqlalchemy.engine import Dialect

from jobs_ui.datasets import Dataset
from jobs_ui.engines.change_log import TABLE as CHANGES

_JSON_CHUNK = 50  # columns per JSON call: both databases cap a function's arguments


class RowSql:
    """`source` (alias s) holds the rows a job brings, `target` (alias t) is the dataset table;
    `compared` are the columns the job sets (the mapped ones, key aside)."""

    def __init__(
        self, connection: Connection, dataset: Dataset, *, source: str, compared: Sequence[str]
    ) -> None:
        self.connection = connection
        self.dialect: Dialect = connection.dialect
        self.is_sqlite = self.dialect.name == "sqlite"
        self.quote = self.dialect.identifier_preparer.quote
        self.columns = dataset.columns
        self.compared = tuple(name for name in compared if name != dataset.key)
        table = self.quote(dataset.sql_table.name)
        self.target = f"main.{table}" if self.is_sqlite else table
        self.changes = f"main.{CHANGES}" if self.is_sqlite else CHANGES
        self.source = source
        # SQLite tables have rowids unless made WITHOUT ROWID (an option SQLAlchemy spells).
        options = dataset.sql_table.dialect_options.get("sqlite")
        self.has_rowid = self.is_sqlite and bool(options is None or options.get("with_rowid", True))
        self.key = self.quote(dataset.key)
        self.mark = "?" if self.is_sqlite else "%s"
        key_type = dataset.sql_table.c[dataset.key].type.compile(dialect=self.dialect)
        self._key_type = key_type
        self._uuid = Uuid().dialect_impl(self.dialect).bind_processor(self.dialect)

    # --- running -----------------------------------------------------------------------

    def run(self, sql: str, *params: Any) -> int:
        """Execute one statement in the caller's transaction; the rows it touched."""
        return int(self.connection.exec_driver_sql(sql, tuple(params)).rowcount)

    def rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self.connection.exec_driver_sql(sql, tuple(params))]

    def job(self, job_id: uuid.UUID) -> Any:
        """A job id as this database's driver takes it."""
        return job_id if self._uuid is None else self._uuid(job_id)

    # --- the pieces of statements ------------------------------------------------------

    def json_of(self, alias: str) -> str:
        """The row `alias` as JSON text of the dataset's columns."""
        if self.is_sqlite:
            parts = [
                "json_object("
                + ", ".join(f"'{name}', {alias}.{self.quote(name)}" for name in chunk)
                + ")"
                for chunk in _chunks(self.columns)
            ]
            return parts[0] if len(parts) == 1 else "json_patch(" + ", ".join(parts) + ")"
        return f"({self._jsonb(alias)})::text"

    def matches(self, alias: str, stored: str) -> str:
        """Whether row `alias` still holds the values recorded as JSON in `stored`."""
        if self.is_sqlite:
            return f"{self.json_of(alias)} = {stored}"
        return f"{self._jsonb(alias)} = ({stored})::jsonb"

    def _jsonb(self, alias: str) -> str:
        parts = [
            "jsonb_build_object("
            + ", ".join(f"'{name}', {alias}.{self.quote(name)}" for name in chunk)
            + ")"
            for chunk in _chunks(self.columns)
        ]
        return " || ".join(parts)

    def differs(self, t: str = "t", s: str = "s") -> str:
        """Whether any compared column of `s` differs from `t`'s (NULL equals NULL)."""
        if not self.compared:
            return "1 = 0"
        unlike = "IS NOT" if self.is_sqlite else "IS DISTINCT FROM"
        return (
            "("
            + " OR ".join(
                f"{t}.{self.quote(c)} {unlike} {s}.{self.quote(c)}" for c in self.compared
            )
            + ")"
        )

    def differs_in(self, column: str) -> str:
        unlike = "IS NOT" if self.is_sqlite else "IS DISTINCT FROM"
        name = self.quote(column)
        return f"CASE WHEN t.{name} {unlike} s.{name} THEN 1 ELSE 0 END"

    def key_text(self, alias: str) -> str:
        """Row `alias`'s key as the text recorded in the changes."""
        return f"{alias}.{self.key}" if self.is_sqlite else f"CAST({alias}.{self.key} AS TEXT)"

    def recorded_key(self, alias: str) -> str:
        """A recorded key, as the key column's type (so the table's key index finds it)."""
        if self.is_sqlite:
            return f"{alias}.row_key"  # SQLite gives it the key column's affinity itself
        return f"CAST({alias}.row_key AS {self._key_type})"

    def restore(self) -> tuple[str, str]:
        """(SET list, FROM list) that give the row t its recorded `before` values back."""
        if self.is_sqlite:
            sets = ", ".join(
                f"{self.quote(name)} = json_extract(c.before, '$.\"{name}\"')"
                for name in self.columns
            )
            return sets, f"{self.changes} AS c"
        sets = ", ".join(f"{self.quote(name)} = r.{self.quote(name)}" for name in self.columns)
        before = f"jsonb_populate_record(NULL::{self.target}, (c.before)::jsonb)"
        origin = f"{self.changes} AS c CROSS JOIN LATERAL {before} AS r"
        return sets, origin


def _chunks(columns: Sequence[str]) -> list[Sequence[str]]:
    return [columns[start : start + _JSON_CHUNK] for start in range(0, len(columns), _JSON_CHUNK)]
