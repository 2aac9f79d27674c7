"""Scratch space for one import: validated rows and skipped rows, on disk.

Validated rows wait here until the whole file has been read, so the dataset table is written
in one short transaction at the end (all or nothing) and memory stays flat however large the
file is. The unique index on `key` finds duplicates within the file without a Python set.
"""

from __future__ import annotations

import pickle
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

StagedRow = tuple[int, Any, tuple[Any, ...]]  # (row number, key, values in column order)
PICKLE = pickle.HIGHEST_PROTOCOL


class ImportStaging:
    """Use with `contextlib.closing`: closing deletes the scratch file."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None)
        # Scratch data: it is rebuilt from the upload if anything goes wrong, so skip durability.
        self._db.executescript(
            """
            PRAGMA journal_mode = OFF;
            PRAGMA synchronous = OFF;
            CREATE TABLE staged (row_no INTEGER PRIMARY KEY, key UNIQUE, data BLOB NOT NULL);
            CREATE TABLE skipped (row_no INTEGER NOT NULL, data BLOB NOT NULL, reason TEXT);
            CREATE INDEX skipped_in_file_order ON skipped (row_no);
            BEGIN;
            """
        )
        # Never committed: this connection reads its own writes, and the file is thrown away.
        self.staged_count = 0
        self.skipped_count = 0

    def stage(self, row_no: int, key: Any, values: tuple[Any, ...]) -> int | None:
        """Keep a valid row; returns the earlier row number if its key was already staged."""
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO staged VALUES (?, ?, ?)",
            (row_no, key, pickle.dumps(values, PICKLE)),
        )
        if cursor.rowcount == 1:
            self.staged_count += 1
            return None
        earlier = self._db.execute("SELECT row_no FROM staged WHERE key = ?", (key,)).fetchone()
        return int(earlier[0])

    def stage_many(self, rows: Sequence[StagedRow]) -> list[tuple[int, int]]:
        """Keep valid rows; returns (row, earlier row) for each whose key was already staged.

        One statement for the whole batch when no key repeats (most files); a batch that
        holds a repeat goes row by row to find it. (No savepoints: this scratch database
        keeps no journal, so it cannot roll back.)
        """
        keys = [key for _row_no, key, _values in rows]
        marks = ",".join("?" * len(keys))
        seen = self._db.execute(f"SELECT 1 FROM staged WHERE key IN ({marks}) LIMIT 1", keys)
        if seen.fetchone() is None and len(set(keys)) == len(keys):
            self._db.executemany(
                "INSERT INTO staged VALUES (?, ?, ?)",
                [(row_no, key, pickle.dumps(values, PICKLE)) for row_no, key, values in rows],
            )
            self.staged_count += len(rows)
            return []
        duplicates = []
        for row_no, key, values in rows:
            earlier = self.stage(row_no, key, values)
            if earlier is not None:
                duplicates.append((row_no, earlier))
        return duplicates

    def skip(self, row_no: int, values: dict[str, Any], reason: str) -> None:
        self._db.execute(
            "INSERT INTO skipped VALUES (?, ?, ?)",
            (row_no, pickle.dumps(values, PICKLE), reason),
        )
        self.skipped_count += 1

    def staged_batches(self, size: int) -> Iterator[list[StagedRow]]:
        """Staged rows in file order, `size` at a time."""
        cursor = self._db.execute("SELECT row_no, key, data FROM staged ORDER BY row_no")
        while batch := cursor.fetchmany(size):
            yield [(row_no, key, pickle.loads(data)) for row_no, key, data in batch]

    def skipped_rows(self) -> Iterator[tuple[int, dict[str, Any], str]]:
        """Skipped rows in file order: (row number, values by column, reason)."""
        cursor = self._db.execute("SELECT row_no, data, reason FROM skipped ORDER BY row_no")
        for row_no, data, reason in cursor:
            yield row_no, pickle.loads(data), reason

    def close(self) -> None:
        self._db.close()
        self.path.unlink(missing_ok=True)
