"""The rows an import skipped, kept so that a person can fix them in the browser.

Written beside the CSV error report, in the same pass over the skipped rows (a SQLite file
per import, `DataFiles.rejected_rows_path`): each row's number in the file, its values as
the file gave them (text, by field, the mapped fields only) and its problems. Read a page
at a time, in file order, optionally of one reason only: never by reading the upload again,
and never more than a page into memory.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from jobs_ui.engines.row_errors import Problem

_WRITE_BATCH = 1_000  # rows per executemany while writing


@dataclass(frozen=True)
class RejectedError:
    """One problem of a row: its field (None: the row as a whole) and the sentence."""

    field: str | None
    message: str


@dataclass(frozen=True)
class RejectedRow:
    row: int
    values: dict[str, str | None]
    errors: list[RejectedError] = field(default_factory=list)


@dataclass(frozen=True)
class RejectedPage:
    total: int
    """The rows of this reason (or all of them), not only this page's."""
    rows: list[RejectedRow]


def write_rejected_rows(
    path: Path,
    fields: Sequence[str],
    rows: Iterable[tuple[int, dict[str, str | None]]],
    problems: Iterable[tuple[int, Problem]],
) -> None:
    """Write the store at `path` whole, or leave none: `rows` and `problems` in file order.

    A problem is kept under both of its sentences: the one shared by every row it groups
    (what the filter by reason matches) and the row's own (what the grid shows)."""
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        with contextlib.closing(sqlite3.connect(partial, isolation_level=None)) as db:
            db.executescript(
                """
                PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;
                CREATE TABLE about (fields TEXT NOT NULL);
                CREATE TABLE rejected (row INTEGER PRIMARY KEY, cells TEXT NOT NULL);
                CREATE TABLE problems (row INTEGER NOT NULL, field TEXT, reason TEXT NOT NULL,
                                       sentence TEXT NOT NULL);
                BEGIN;
                """
            )
            db.execute("INSERT INTO about VALUES (?)", (json.dumps(list(fields)),))
            for batch in _batches((row, json.dumps(values)) for row, values in rows):
                db.executemany("INSERT INTO rejected VALUES (?, ?)", batch)
            for batch in _batches(
                (row, each.field, each.message, each.sentence) for row, each in problems
            ):
                db.executemany("INSERT INTO problems VALUES (?, ?, ?, ?)", batch)
            db.execute("CREATE INDEX problems_of_row ON problems (row)")
            db.execute("CREATE INDEX rows_by_reason ON problems (reason, row)")
            db.execute("COMMIT")
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)


def _batches(items: Iterable[tuple[object, ...]]) -> Iterator[list[tuple[object, ...]]]:
    batch: list[tuple[object, ...]] = []
    for item in items:
        batch.append(item)
        if len(batch) == _WRITE_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


class RejectedRows:
    """One import's stored rows to fix, read-only. Use with `contextlib.closing`."""

    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise FileNotFoundError(path)
        self._db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        ((fields,),) = self._db.execute("SELECT fields FROM about").fetchall()
        self.fields: list[str] = json.loads(fields)

    def close(self) -> None:
        self._db.close()

    def page(self, *, offset: int, limit: int, reason: str | None = None) -> RejectedPage:
        """`limit` rows from the `offset`th on, in file order; of one `reason` if given."""
        if reason is None:
            ((total,),) = self._db.execute("SELECT count(*) FROM rejected").fetchall()
            numbers = self._db.execute(
                "SELECT row FROM rejected ORDER BY row LIMIT ? OFFSET ?", (limit, offset)
            ).fetchall()
        else:
            ((total,),) = self._db.execute(
                "SELECT count(DISTINCT row) FROM problems WHERE reason = ?", (reason,)
            ).fetchall()
            numbers = self._db.execute(
                "SELECT DISTINCT row FROM problems WHERE reason = ? ORDER BY row LIMIT ? OFFSET ?",
                (reason, limit, offset),
            ).fetchall()
        found = self.rows([number for (number,) in numbers])
        return RejectedPage(total=int(total), rows=[found[number] for (number,) in numbers])

    def rows(self, numbers: Sequence[int]) -> dict[int, RejectedRow]:
        """The stored rows of these numbers (those that are not rows of the report are
        left out), by number."""
        if not numbers:
            return {}
        marks = ", ".join("?" * len(numbers))
        errors: dict[int, list[RejectedError]] = {}
        for row, name, sentence in self._db.execute(
            f"SELECT row, field, sentence FROM problems WHERE row IN ({marks}) ORDER BY row, rowid",
            tuple(numbers),
        ):
            errors.setdefault(row, []).append(RejectedError(name, sentence))
        return {
            row: RejectedRow(row, json.loads(cells), errors.get(row, []))
            for row, cells in self._db.execute(
                f"SELECT row, cells FROM rejected WHERE row IN ({marks})", tuple(numbers)
            )
        }

    def reasons(self) -> list[tuple[str, int]]:
        """Each reason with how many rows it has, the most common first."""
        return [
            (reason, int(count))
            for reason, count in self._db.execute(
                "SELECT reason, count(DISTINCT row) FROM problems GROUP BY reason "
                "ORDER BY count(DISTINCT row) DESC, min(row)"
            )
        ]
