"""Phase 2 of an import: the checked rows meet the dataset table, in one transaction.

By mode (see `modes`): rows whose key the table lacks are created (insert, upsert), rows whose
key it holds are updated where a mapped value differs (upsert, update) and left alone where
none does; what a mode does not take is skipped, with why. A field the mapping leaves out is
never written, so an update keeps what is stored there.

Every created and updated row is recorded in `import_change` (its values before and after) in
the same transaction, for the undo. A dry run does everything up to the writes, counts what
they would do, samples the changes, and writes nothing to the dataset table.
"""

from __future__ import annotations

import contextlib
import sqlite3
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import IntegrityError

from jobs_ui.datasets import Dataset
from jobs_ui.db import WRITE_LOCK_OPTION, is_sqlite
from jobs_ui.engines.modes import ImportMode, held_key, repeated_key, unknown_key
from jobs_ui.engines.postgres_save import copy_to_temporary, skip_by_key
from jobs_ui.engines.progress import ProgressReporter
from jobs_ui.engines.row_sql import RowSql
from jobs_ui.engines.run_fence import hold_run
from jobs_ui.engines.staging import SCHEMA, ImportStaging, sql_quote

CHANGES_IN_RESULT = 100  # a dry run's sample of {key, field, from, to}
INSERT_PART_ROWS = 100_000  # rows per INSERT ... SELECT, between progress reports
VALIDATION_SHARE = 90  # percent of the bar before phase 2 starts


@dataclass
class SaveOutcome:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    changes: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class SavePlan:
    """What phase 2 does: the mode, the fields the mapping feeds, and whether to write."""

    job_id: uuid.UUID
    mode: ImportMode
    mapped: Sequence[str]
    dry_run: bool = False
    show_stored: bool = True
    """A dry run's changes say the stored values (`from`); else they are null."""
    attempt: int = 1
    """The job's run doing this: its rows are kept only if the job is still on it."""


Finish = Callable[[], None]  # run inside the transaction once the rows are saved (the report)


def save_rows(
    engine: Engine,
    dataset: Dataset,
    staging: ImportStaging,
    reporter: ProgressReporter,
    plan: SavePlan,
    finish: Finish,
) -> SaveOutcome:
    """Phase 2, all or nothing. `finish` runs before the commit, so once rows are kept nothing
    is left that could fail the job; the last chance to cancel comes after it."""
    verb = "Comparing" if plan.dry_run else "Saving"
    reporter.update(VALIDATION_SHARE, f"{verb} {staging.staged_count:,} valid rows", force=True)
    with (
        held_if_sqlite(engine, reporter),
        engine.connect().execution_options(**{WRITE_LOCK_OPTION: True}) as connection,
    ):
        if is_sqlite(engine):
            driver = connection.connection.driver_connection
            assert isinstance(driver, sqlite3.Connection)  # is_sqlite: the stdlib driver
            try:
                with staging.attached(driver), connection.begin():
                    outcome = _merge(
                        connection, dataset, staging, reporter, plan, f"{SCHEMA}.staged"
                    )
                    finish()
                    reporter.check_cancelled()  # last chance: after the commit rows are kept
                    hold_run(connection, plan.job_id, plan.attempt)
            except BaseException:
                # Never hand the pool a connection that may still have the scratch attached.
                connection.invalidate()
                raise
        else:
            with connection.begin():
                lock_table(connection, dataset)
                _skip_repeated_keys(dataset, staging)
                source = copy_to_temporary(
                    connection, dataset, staging, _Steps(reporter, staging.staged_count).copied
                )
                outcome = _merge(connection, dataset, staging, reporter, plan, source)
                finish()
                reporter.check_cancelled()
                hold_run(connection, plan.job_id, plan.attempt)
    return outcome


def _merge(
    connection: Connection,
    dataset: Dataset,
    staging: ImportStaging,
    reporter: ProgressReporter,
    plan: SavePlan,
    source: str,
) -> SaveOutcome:
    """Skip what the mode does not take, then compare (dry run) or write and record.

    Keys repeated within the file are sorted out first where rows are compared with the
    table; a SQLite insert looks for them only once the table's unique key refuses a row
    (most files repeat none, and looking costs an index over every staged row)."""
    repeats = _Repeats(dataset, staging)
    if not is_sqlite(connection):
        repeats.resolved = True  # Postgres: sorted out before the rows were copied over
    elif plan.mode.updates or plan.dry_run:
        repeats.resolve()
    _skip_for_mode(connection, dataset, staging, plan.mode)
    sql = RowSql(connection, dataset, source=f"{source}", compared=plan.mapped)
    steps = _Steps(reporter, staging.staged_count)
    if plan.dry_run:
        return _compare(sql, plan, staging.staged_count)
    return _write(sql, plan, staging, steps, repeats)


class _Repeats:
    """Moves the rows repeating an earlier row's key to the skipped rows, once."""

    def __init__(self, dataset: Dataset, staging: ImportStaging) -> None:
        self._dataset, self._staging = dataset, staging
        self.resolved = False

    def resolve(self) -> None:
        if not self.resolved and self._staging.any_repeated_keys():
            _skip_repeated_keys(self._dataset, self._staging)
        self.resolved = True


def _skip_for_mode(
    connection: Connection, dataset: Dataset, staging: ImportStaging, mode: ImportMode
) -> None:
    """insert: a key the table holds is skipped; update: a key it lacks is."""
    if mode is ImportMode.UPSERT:
        return
    held = mode is ImportMode.INSERT
    reason = held_key(dataset) if held else unknown_key(dataset)
    if is_sqlite(connection):
        staging.skip_by_key(
            dataset.sql_table,
            held=held,
            reason_prefix=reason.prefix,
            reason_suffix=reason.suffix,
            problem=reason.problem,
        )
    else:
        skip_by_key(
            connection,
            dataset,
            staging,
            held=held,
            reason=lambda key: reason.sentence(sql_quote(key)),
            problem=reason.problem,
        )


def _write(
    sql: RowSql, plan: SavePlan, staging: ImportStaging, steps: _Steps, repeats: _Repeats
) -> SaveOutcome:
    """Update what differs, create what is new, and record both for the undo."""
    job = sql.job(plan.job_id)
    t, key = sql.target, sql.key
    outcome = SaveOutcome()
    if plan.mode.updates:
        outcome.updated = _update(sql, job)
        steps.done(outcome.updated, f"Updated {outcome.updated:,} rows")
    if plan.mode.creates:
        outcome.created = _create(sql, job, steps, repeats, staging)
    if not sql.has_rowid and (outcome.updated or sql.is_sqlite):
        # The updated rows as written (and, without rowids, the created ones), which the
        # undo compares with what it finds then.
        sql.run(
            f"UPDATE {sql.changes} AS c SET after = {sql.json_of('t')} FROM {t} AS t "
            f"WHERE c.job_id = {sql.mark} AND c.after IS NULL "
            f"AND t.{key} = {sql.recorded_key('c')}",
            job,
        )
    remaining = staging.staged_count
    outcome.unchanged = remaining - outcome.created - outcome.updated
    if outcome.unchanged < 0 or (plan.mode is ImportMode.INSERT and outcome.unchanged):
        raise RuntimeError("rows were neither saved nor reported as skipped")
    return outcome


BEFORE_IMAGES = f"{SCHEMA}.before_images"  # SQLite: in the attached scratch file


def _update(sql: RowSql, job: Any) -> int:
    """Update the rows where a mapped value differs, recording each one's values before and
    after; returns how many."""
    t, s, key = sql.target, sql.source, sql.key
    sets = ", ".join(f"{sql.quote(name)} = s.{sql.quote(name)}" for name in sql.compared)
    update = f"UPDATE {t} AS t SET {sets} FROM {s} AS s WHERE t.{key} = s.{key} AND {sql.differs()}"
    if not sql.has_rowid:
        # The values before go in first, the values after once written (see _write).
        recorded = sql.run(
            f"INSERT INTO {sql.changes} (job_id, row_key, before) "
            f"SELECT {sql.mark}, {sql.key_text('t')}, {sql.json_of('t')} "
            f"FROM {s} AS s JOIN {t} AS t ON t.{key} = s.{key} WHERE {sql.differs()}",
            job,
        )
        updated = sql.run(update) if recorded else 0
    else:
        # SQLite: the values before wait in the scratch file (no journal), found again by
        # rowid once the rows are written: one insert into the record, no update of it.
        sql.run(f"CREATE TABLE {BEFORE_IMAGES} (rid INTEGER PRIMARY KEY, before TEXT)")
        recorded = sql.run(
            f"INSERT INTO {BEFORE_IMAGES} SELECT t.rowid, {sql.json_of('t')} "
            f"FROM {s} AS s JOIN {t} AS t ON t.{key} = s.{key} WHERE {sql.differs()}"
        )
        updated = sql.run(update) if recorded else 0
        if updated:
            sql.run(
                f"INSERT INTO {sql.changes} (job_id, row_key, before, after) "
                f"SELECT {sql.mark}, {sql.key_text('t')}, b.before, {sql.json_of('t')} "
                f"FROM {BEFORE_IMAGES} AS b JOIN {t} AS t ON t.rowid = b.rid",
                job,
            )
    if updated != recorded:
        raise RuntimeError("rows were updated without their values before being recorded")
    return updated


def _create(sql: RowSql, job: Any, steps: _Steps, repeats: _Repeats, staging: ImportStaging) -> int:
    """Insert the rows whose key the table lacks, in file order and in parts, and record
    each as created with its values as written; returns how many."""
    t, s, key = sql.target, sql.source, sql.key
    new_key = f"NOT EXISTS (SELECT 1 FROM {t} AS t WHERE t.{key} = s.{key})"
    record = f"INSERT INTO {sql.changes} (job_id, row_key, after) SELECT {sql.mark}, "
    newest = 0
    if sql.is_sqlite and sql.has_rowid:
        # The new rows are those past the table's last rowid: recorded from the table once
        # they are in, as SQLite typed them (the scratch rows are untyped).
        ((newest,),) = sql.rows(f"SELECT coalesce(max(rowid), 0) FROM {t}")
    elif sql.is_sqlite:
        sql.run(f"{record}{sql.key_text('s')}, NULL FROM {s} AS s WHERE {new_key}", job)
    else:  # Postgres: the copied rows have the table's own types, so they read the same
        sql.run(
            f"{record}{sql.key_text('s')}, {sql.json_of('s')} FROM {s} AS s WHERE {new_key}", job
        )
    names = ", ".join(sql.quote(name) for name in sql.columns)
    insert = (
        f"INSERT INTO {t} ({names}) SELECT {names} FROM {s} AS s "
        f"WHERE s._row_no BETWEEN {sql.mark} AND {sql.mark} AND {new_key} ORDER BY s._row_no"
    )
    created = 0
    first, last = sql.rows(f"SELECT min(_row_no), max(_row_no) FROM {s}")[0]
    for start in range(first or 0, (last or -1) + 1, INSERT_PART_ROWS):
        end = start + INSERT_PART_ROWS - 1
        try:
            created += sql.run(insert, start, end)
        except IntegrityError:  # SQLAlchemy's, around the driver's
            if repeats.resolved:
                raise  # a constraint of the table's own: the import fails, nothing is kept
            repeats.resolve()  # a key repeated within the part
            created += sql.run(insert, start, end)
        steps.done(created, f"Saved {created:,} new rows")
    if not repeats.resolved and created < staging.staged_count:
        repeats.resolve()  # a repeat across parts passes over quietly: reported here
    if sql.is_sqlite and sql.has_rowid:
        # Every row past the last rowid is this import's: the write lock is held since.
        recorded = sql.run(
            f"{record}{sql.key_text('t')}, {sql.json_of('t')} FROM {t} AS t "
            f"WHERE t.rowid > {sql.mark}",
            job,
            newest,
        )
        if recorded != created:
            raise RuntimeError("rows were created without being recorded for the undo")
    return created


def _compare(sql: RowSql, plan: SavePlan, remaining: int) -> SaveOutcome:
    """What writing would do, written nowhere: counts, and the first changes field by field."""
    t, s, key = sql.target, sql.source, sql.key
    ((held, differing),) = sql.rows(
        f"SELECT count(*), coalesce(sum(CASE WHEN {sql.differs()} THEN 1 ELSE 0 END), 0) "
        f"FROM {s} AS s JOIN {t} AS t ON t.{key} = s.{key}"
    )
    outcome = SaveOutcome(
        created=remaining - int(held) if plan.mode.creates else 0,
        updated=int(differing),
        unchanged=int(held) - int(differing),
    )
    if differing and sql.compared:
        outcome.changes = list(_changes(sql, show_stored=plan.show_stored))
    return outcome


def _changes(sql: RowSql, *, show_stored: bool) -> Iterator[dict[str, Any]]:
    """The first CHANGES_IN_RESULT changed fields, in file order: {key, field, from, to}."""
    t, s, key = sql.target, sql.source, sql.key
    picks = ", ".join(
        f"t.{sql.quote(name)}, s.{sql.quote(name)}, {sql.differs_in(name)}" for name in sql.compared
    )
    rows = sql.rows(
        f"SELECT s.{key}, {picks} FROM {s} AS s JOIN {t} AS t ON t.{key} = s.{key} "
        f"WHERE {sql.differs()} ORDER BY s._row_no LIMIT {sql.mark}",
        CHANGES_IN_RESULT,
    )
    listed = 0
    for key_value, *values in rows:
        for index, name in enumerate(sql.compared):
            before, after, differs = values[3 * index : 3 * index + 3]
            if not differs:
                continue
            yield {
                "key": _shown(key_value),
                "field": name,
                "from": _shown(before) if show_stored else None,
                "to": _shown(after),
            }
            listed += 1
            if listed == CHANGES_IN_RESULT:
                return


def _shown(value: object) -> str | None:
    """A value as a person reads it (numbers without float noise where they are exact)."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


class _Steps:
    """Phase 2's share of the bar, and a chance to cancel, after each step."""

    def __init__(self, reporter: ProgressReporter, rows: int) -> None:
        self._reporter = reporter
        self._rows = max(rows, 1)
        self._copied = 0

    def done(self, rows: int, message: str) -> None:
        share = (99 - VALIDATION_SHARE) * min(rows, self._rows) // self._rows
        self._reporter.update(VALIDATION_SHARE + share, message, rows=rows)
        self._reporter.check_cancelled()

    def copied(self, rows: int) -> None:
        """Postgres: `rows` more went over by COPY (the first of the save's steps)."""
        self._copied += rows
        # The first half of the save's share: the rows are gone over once more after it.
        share = (99 - VALIDATION_SHARE) * min(self._copied, self._rows) // (2 * self._rows)
        message = f"Copying rows: {self._copied:,} of {self._rows:,}"
        self._reporter.update(VALIDATION_SHARE + share, message, rows=self._copied)
        self._reporter.check_cancelled()


def _skip_repeated_keys(dataset: Dataset, staging: ImportStaging) -> int:
    reason = repeated_key(dataset)
    return staging.skip_repeated_keys(reason.prefix, reason.suffix, reason.problem)


def held_if_sqlite(
    engine: Engine, reporter: ProgressReporter
) -> contextlib.AbstractContextManager[None]:
    return reporter.writes_held() if is_sqlite(engine) else contextlib.nullcontext()


def lock_table(connection: Connection, dataset: Dataset) -> None:
    """Serialise writers of one table so two imports cannot both add the same key, and an
    undo sees the rows as no one else is changing them."""
    if connection.dialect.name == "postgresql":
        table_name = connection.dialect.identifier_preparer.quote(dataset.sql_table.name)
        connection.execute(text(f"LOCK TABLE {table_name} IN SHARE ROW EXCLUSIVE MODE"))
    # SQLite: BEGIN IMMEDIATE (the write-lock option) already holds the only write lock.
