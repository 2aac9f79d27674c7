"""Scratch space for one import: validated rows and skipped rows, in a SQLite file.

Validated rows wait here until the whole file has been read, so the dataset table is written
in one short transaction at the end (all or nothing) and memory stays flat however large the
file is. The staged table has the dataset table's columns (its own columns start with an
underscore, which no dataset field can), so SQLite finds the keys repeated
within the file, and a SQLite dataset table is filled from it
with one `INSERT ... SELECT` (see `attached`) instead of a million Python round trips.

Values are stored as SQLAlchemy's SQLite dialect binds them (a datetime becomes ISO text, as
in a SQLite dataset table; exact decimals stay text) and converted back when read for Postgres.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import Decimal
from itertools import chain
from pathlib import Path
from typing import Any

from sqlalchemy import Numeric, Table
from sqlalchemy.dialects import sqlite
from sqlalchemy.types import TypeEngine

from jobs_ui.db import row_converter
from jobs_ui.engines.row_errors import Problem, ProblemGroup

StagedRow = tuple[int, tuple[Any, ...]]  # (row number, values in column order)
VALUE_CHARS = 200  # of an offending value kept with its problem (the report keeps it whole)
Processor = Callable[[Any], Any]
SCHEMA = "import_staging"
"""The name the scratch file is attached under in a SQLite dataset database."""

_DIALECT = sqlite.dialect()
_quote = _DIALECT.identifier_preparer.quote


def _scratch_codec(kind: TypeEngine[Any]) -> tuple[Processor | None, Processor | None]:
    """How a column's values go into the scratch file and come back, as SQLAlchemy's SQLite
    dialect would store them (a datetime as ISO text), except exact decimals: SQLite would
    make them floats, so they travel as text."""
    impl = kind.dialect_impl(_DIALECT)
    if isinstance(impl, Numeric) and impl.asdecimal:
        return str, Decimal
    return impl.bind_processor(_DIALECT), impl.result_processor(_DIALECT, None)


def sql_quote(value: object) -> str:
    """A key as SQLite's quote() shows it, so both save paths word a reason the same way."""
    return "'" + value.replace("'", "''") + "'" if isinstance(value, str) else str(value)


class ImportStaging:
    """Use with `contextlib.closing`: closing deletes the scratch file."""

    def __init__(
        self, path: Path, table: Table, columns: Sequence[str], key: str, *, reopen: bool = False
    ) -> None:
        """A new, empty scratch file at `path`; with `reopen`, the one a dry run kept there
        (see `keep_copy`), its rows checked already."""
        path.parent.mkdir(parents=True, exist_ok=True)
        if not reopen:
            path.unlink(missing_ok=True)
        elif not path.is_file():
            raise FileNotFoundError(path)
        self.path = path
        self.columns = tuple(columns)
        self.key = key
        codecs = [_scratch_codec(table.c[name].type) for name in self.columns]
        self._to_scratch = row_converter([to_scratch for to_scratch, _back in codecs])
        self._from_scratch = row_converter([back for _to_scratch, back in codecs])
        self._names = ", ".join(_quote(name) for name in self.columns)
        self._prefix = ""  # "import_staging." while attached to a dataset database
        self._db = self._own = sqlite3.connect(path, isolation_level=None)
        # No declared types: SQLite keeps each value exactly as given (no affinity).
        untyped = ", ".join(_quote(name) for name in self.columns)
        as_text = ", ".join(f"{_quote(name)} TEXT" for name in self.columns)
        variables = self._own.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        self._rows_per_insert = max(1, min(1_000, variables // (len(self.columns) + 1)))
        self._inserts: dict[int, str] = {}  # INSERT statements by their number of rows
        # Scratch data: it is rebuilt from the upload if anything goes wrong, so skip durability.
        self._own.executescript("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;")
        if reopen:
            self._own.execute("BEGIN")
            self.staged_count = self._count("staged")
            self.skipped_count = self._count("skipped")
            return
        self._own.executescript(
            f"""
            CREATE TABLE staged (_row_no INTEGER PRIMARY KEY, {untyped});
            CREATE TABLE skipped (_row_no INTEGER NOT NULL, _reason TEXT NOT NULL, {as_text});
            CREATE INDEX skipped_in_file_order ON skipped (_row_no);
            CREATE TABLE problems (_row_no INTEGER NOT NULL, _field TEXT, _message TEXT NOT NULL,
                                   _value TEXT, _detail TEXT);
            BEGIN;
            """
        )
        self.staged_count = 0
        self.skipped_count = 0

    def _count(self, table: str) -> int:
        return int(self._own.execute(f"SELECT count(*) FROM {table}").fetchone()[0])

    def keep_copy(self, path: Path) -> None:
        """Copy the rows read so far to `path`, for a later job to save without reading the
        file again (a dry run's commit: `ImportStaging(path, ..., reopen=True)`)."""
        self._own.execute("COMMIT")
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with contextlib.closing(sqlite3.connect(path)) as copy:
                self._own.backup(copy)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        finally:
            self._own.execute("BEGIN")

    # --- phase 1: reading the file ------------------------------------------------------

    def stage_many(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Keep valid rows, each `(row number, *values in column order)`: flat, so a million
        rows build one tuple each. Repeated keys are sorted out once the file is read."""
        convert = self._to_scratch
        params = rows if convert is None else [(row[0], *convert(row[1:])) for row in rows]
        # Many rows per INSERT: a third faster than executemany's statement per row.
        for start in range(0, len(params), self._rows_per_insert):
            part = params[start : start + self._rows_per_insert]
            self._db.execute(self._insert_rows(len(part)), list(chain.from_iterable(part)))
        self.staged_count += len(rows)

    def _insert_rows(self, count: int) -> str:
        sql = self._inserts.get(count)
        if sql is None:
            row = "(" + ", ".join("?" * (len(self.columns) + 1)) + ")"
            sql = self._inserts[count] = "INSERT INTO staged VALUES " + ", ".join([row] * count)
        return sql

    def any_repeated_keys(self) -> bool:
        """Whether two staged rows share a key: a unique index over the keys either builds
        (none do: one sort, no row looked at twice) or is refused."""
        key, at = _quote(self.key), self._prefix
        try:
            self._db.execute(f"CREATE UNIQUE INDEX {at}staged_unique_key ON staged ({key})")
        except sqlite3.IntegrityError:
            return True
        self._db.execute(f"DROP INDEX {at}staged_unique_key")  # it would slow the deletes
        return False

    def skip_repeated_keys(self, reason_prefix: str, reason_suffix: str, problem: str) -> int:
        """Move each staged row whose key an earlier staged row has to the skipped rows.

        The key index is built only now, in one go: cheaper than keeping it up to date row by
        row, and a SQLite save needs it only when the file repeats a key. Rows already
        skipped (their key was in the table) are left alone. The reason names the first row.
        """
        key, at = _quote(self.key), self._prefix
        self._db.execute(f"CREATE INDEX IF NOT EXISTS {at}staged_by_key ON staged ({key}, _row_no)")
        repeated = f"""
            EXISTS (SELECT 1 FROM {at}staged AS e WHERE e.{key} = s.{key} AND e._row_no < s._row_no)
            AND NOT EXISTS (SELECT 1 FROM {at}skipped AS k WHERE k._row_no = s._row_no)"""
        first = f"(SELECT min(e._row_no) FROM {at}staged AS e WHERE e.{key} = s.{key})"
        self._record_problems(
            f"FROM {at}staged AS s WHERE {repeated}",
            problem,
            detail=f"? || {first} || ?",
            detail_params=(reason_prefix, reason_suffix),
        )
        moved = self._db.execute(
            f"""
            INSERT INTO {at}skipped (_row_no, _reason, {self._names})
            SELECT s._row_no, ? || {first} || ?, {self._text_of_staged()}
            FROM {at}staged AS s WHERE {repeated}
            """,
            (reason_prefix, reason_suffix),
        ).rowcount
        if moved:
            # Out of the staged rows go the repeats just found, and any row whose key was
            # already in the table (skipped before; saved rows are past needing the rest).
            self._db.execute(
                f"DELETE FROM {at}staged WHERE _row_no IN (SELECT _row_no FROM {at}skipped)"
            )
        self.staged_count -= moved
        self.skipped_count += moved
        return moved

    def skip(
        self,
        row_no: int,
        record: Mapping[str, Any],
        reason: str,
        problems: Sequence[Problem] = (),
    ) -> None:
        """Keep a row that will not be imported, with why (the whole sentence for the error
        report, and each problem apart for the summary; none given: the sentence is one)."""
        cells = [_as_text(record.get(name)) for name in self.columns]
        marks = ", ".join("?" * (len(self.columns) + 2))
        self._db.execute(
            f"INSERT INTO {self._prefix}skipped VALUES ({marks})", (row_no, reason, *cells)
        )
        self._db.executemany(
            f"INSERT INTO {self._prefix}problems VALUES (?, ?, ?, ?, ?)",
            [
                (row_no, each.field, each.message, _clipped(each.value), each.detail)
                for each in problems or (Problem(None, reason),)
            ],
        )
        self.skipped_count += 1

    def _record_problems(
        self, rows_sql: str, message: str, *, detail: str, detail_params: tuple[str, ...]
    ) -> None:
        """One problem on the key, with its value, for each staged row `rows_sql` selects;
        `detail` is the SQL of its row's own sentence (naming the other row, or the key)."""
        key = _quote(self.key)
        self._db.execute(
            f"INSERT INTO {self._prefix}problems (_row_no, _field, _message, _value, _detail) "
            f"SELECT s._row_no, ?, ?, substr(CAST(s.{key} AS TEXT), 1, {VALUE_CHARS}), {detail} "
            f"{rows_sql}",
            (self.key, message, *detail_params),
        )

    # --- after saving: what was skipped, and why -----------------------------------------

    def first_problems(self, limit: int) -> list[tuple[int, Problem]]:
        """The first `limit` problems in file order, as (row number, problem)."""
        cursor = self._db.execute(
            f"SELECT _row_no, _field, _message, _value, _detail FROM {self._prefix}problems "
            "ORDER BY _row_no, rowid LIMIT ?",
            (limit,),
        )
        return [(row, Problem(*problem)) for row, *problem in cursor]

    def all_problems(self) -> Iterator[tuple[int, Problem]]:
        """Every problem in file order, as (row number, problem)."""
        cursor = self._db.execute(
            f"SELECT _row_no, _field, _message, _value, _detail FROM {self._prefix}problems "
            "ORDER BY _row_no, rowid"
        )
        for row, *problem in cursor:
            yield row, Problem(*problem)

    def problem_groups(
        self, *, limit: int, rows_each: int = 10, examples_each: int = 5
    ) -> list[ProblemGroup]:
        """One group per (field, message), largest first (ties: the earliest row first)."""
        at = self._prefix
        self._db.execute(
            f"CREATE INDEX IF NOT EXISTS {at}problems_by_reason "
            f"ON problems (_field, _message, _row_no)"
        )
        counts = self._db.execute(
            f"SELECT _field, _message, count(*), min(_row_no) FROM {at}problems "
            "GROUP BY _field, _message ORDER BY count(*) DESC, min(_row_no) LIMIT ?",
            (limit,),
        ).fetchall()
        groups = []
        for field, message, count, _first in counts:
            rows = self._db.execute(
                f"SELECT DISTINCT _row_no FROM {at}problems WHERE _field IS ? AND _message = ? "
                "ORDER BY _row_no LIMIT ?",
                (field, message, rows_each),
            ).fetchall()
            examples = self._db.execute(
                f"SELECT DISTINCT _value FROM {at}problems WHERE _field IS ? AND _message = ? "
                "AND _value IS NOT NULL LIMIT ?",
                (field, message, examples_each),
            ).fetchall()
            groups.append(
                ProblemGroup(
                    field=field,
                    message=message,
                    count=count,
                    rows=[row for (row,) in rows],
                    examples=[value for (value,) in examples],
                )
            )
        return groups

    # --- phase 2: saving, for any database -----------------------------------------------

    def staged_batches(self, size: int) -> Iterator[list[StagedRow]]:
        """Staged rows in file order, `size` at a time, values as Python gave them."""
        convert = self._from_scratch
        cursor = self._db.execute(f"SELECT * FROM {self._prefix}staged ORDER BY _row_no")
        while batch := cursor.fetchmany(size):
            yield [(row[0], convert(row[1:]) if convert else row[1:]) for row in batch]

    def skipped_rows(self) -> Iterator[tuple[int, tuple[str | None, ...], str]]:
        """Skipped rows in file order: (row number, cells as text by column, reason)."""
        query = (
            f"SELECT _row_no, _reason, {self._names} FROM {self._prefix}skipped ORDER BY _row_no"
        )
        for row_no, reason, *cells in self._db.execute(query):
            yield row_no, tuple(cells), reason

    # --- phase 2: saving into a SQLite dataset table, inside SQLite ----------------------

    @contextlib.contextmanager
    def attached(self, connection: sqlite3.Connection) -> Iterator[None]:
        """Let the dataset database's own connection read and write the scratch tables.

        Call outside a transaction (SQLite cannot attach inside one). While attached, this
        object's methods go through `connection`, so they see its uncommitted writes.
        """
        self._own.execute("COMMIT")  # the other connection reads what phase 1 staged
        connection.execute(f"ATTACH DATABASE ? AS {SCHEMA}", (str(self.path),))
        try:
            connection.execute(f"PRAGMA {SCHEMA}.journal_mode = OFF")
            connection.execute(f"PRAGMA {SCHEMA}.synchronous = OFF")
            self._db, self._prefix = connection, f"{SCHEMA}."
            yield
        except BaseException:
            self._db, self._prefix = self._own, ""
            # The first error is the one to report; the caller discards the connection if
            # this fails too (see import_job._save).
            with contextlib.suppress(sqlite3.Error):
                connection.execute(f"DETACH DATABASE {SCHEMA}")
            raise
        self._db, self._prefix = self._own, ""
        connection.execute(f"DETACH DATABASE {SCHEMA}")

    def skip_by_key(
        self, table: Table, *, held: bool, reason_prefix: str, reason_suffix: str, problem: str
    ) -> int:
        """Move to the skipped rows every staged row whose key `table` holds (`held`) or does
        not hold; returns how many."""
        key = _quote(self.key)
        found = "EXISTS" if held else "NOT EXISTS"
        rows = f"""
            FROM {SCHEMA}.staged AS s
            WHERE {found} (SELECT 1 FROM main.{_quote(table.name)} AS t WHERE t.{key} = s.{key})"""
        self._record_problems(
            rows,
            problem,
            detail=f"? || quote(s.{key}) || ?",
            detail_params=(reason_prefix, reason_suffix),
        )
        moved = self._db.execute(
            f"""
            INSERT INTO {SCHEMA}.skipped (_row_no, _reason, {self._names})
            SELECT s._row_no, ? || quote(s.{key}) || ?, {self._text_of_staged()}
            {rows}
            """,
            (reason_prefix, reason_suffix),
        ).rowcount
        if moved:
            self._db.execute(
                f"DELETE FROM {SCHEMA}.staged "
                f"WHERE _row_no IN (SELECT _row_no FROM {SCHEMA}.skipped)"
            )
        self.staged_count -= moved
        self.skipped_count += moved
        return moved

    def _text_of_staged(self) -> str:
        return ", ".join(f"CAST(s.{_quote(name)} AS TEXT)" for name in self.columns)

    def close(self) -> None:
        self._own.close()
        self.path.unlink(missing_ok=True)


def _as_text(value: object) -> str | None:
    return None if value is None else str(value)


def _clipped(value: str | None) -> str | None:
    return value if value is None or len(value) <= VALUE_CHARS else value[:VALUE_CHARS] + "…"
