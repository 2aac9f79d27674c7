"""The undo engine: take back what one completed import did to its dataset table.

In one transaction, with the table's writers held off: the rows the import created are
deleted and the rows it updated get their values from before it back, from the import's
record (`change_log`). A row that is not as the import left it (a later import, or any
other write, changed or deleted it) is left as it is and counted as a conflict, with its key
in the undo's report. The import is marked undone, and its record deleted, in the same
transaction: an undo happens whole, once, or not at all.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, update
from sqlmodel import col

from jobs_ui.datasets import registry
from jobs_ui.db import WRITE_LOCK_OPTION
from jobs_ui.engines.formulas import neutralise_formula
from jobs_ui.engines.import_save import held_if_sqlite, lock_table
from jobs_ui.engines.progress import ProgressReporter
from jobs_ui.engines.records import ImportFileError
from jobs_ui.engines.row_sql import RowSql
from jobs_ui.engines.run_fence import hold_run
from jobs_ui.files import DataFiles
from jobs_ui.models import Job, utc_now

CONFLICTS_IN_RESULT = 100  # keys listed in the result (the report has them all)
CHANGED_SINCE = "changed since the import; left as it is"
ALREADY_UNDONE = "This import has been undone already."
RECORD_GONE = (
    "This import can no longer be undone: the record of what it changed is no longer kept."
)


def run_undo(
    job: Job, *, engine: Engine, files: DataFiles, reporter: ProgressReporter
) -> dict[str, Any]:
    """Undo the import `job.undo_of`; returns the undo's result."""
    assert job.undo_of is not None
    dataset = registry.get(job.dataset)
    reporter.update(0, "Undoing the import", force=True)
    report = files.error_report_path(job.id)
    with (
        held_if_sqlite(engine, reporter),
        engine.connect().execution_options(**{WRITE_LOCK_OPTION: True}) as connection,
        connection.begin(),
    ):
        lock_table(connection, dataset)
        marked = connection.execute(
            update(Job)
            .where(col(Job.id) == job.undo_of, col(Job.undone_by).is_(None))
            .values(undone_by=job.id, version=Job.version + 1, updated_at=utc_now())
        ).rowcount
        if not marked:
            raise ImportFileError(ALREADY_UNDONE)
        sql = RowSql(connection, dataset, source="", compared=())
        import_id = sql.job(job.undo_of)
        t, c, key = sql.target, sql.changes, sql.key
        found = f"t.{key} = {sql.recorded_key('c')}"
        ((recorded,),) = sql.rows(
            f"SELECT count(*) FROM {c} AS c WHERE c.job_id = {sql.mark}", import_id
        )
        if not recorded:  # swept since the undo was asked for: nothing to undo it from
            raise ImportFileError(RECORD_GONE)
        as_left = sql.matches("t", "c.after")
        later = _keys_changed_later(sql, dataset.name, import_id)
        if later:
            # As the import left it: its values, and no later import of the dataset recorded
            # a change to it (one that changed it and a second that changed it back look
            # the same in the table). Undone imports drop their records: only kept ones count.
            as_left += f" AND NOT EXISTS (SELECT 1 FROM {later} AS k WHERE k.row_key = c.row_key)"
        conflicts = [
            row_key
            for (row_key,) in sql.rows(
                f"SELECT c.row_key FROM {c} AS c WHERE c.job_id = {sql.mark} AND NOT EXISTS "
                f"(SELECT 1 FROM {t} AS t WHERE {found} AND {as_left}) "
                "ORDER BY c.row_key",
                import_id,
            )
        ]
        reporter.update(30, f"Deleting the rows the import created ({recorded:,} recorded)")
        deleted = sql.run(
            f"DELETE FROM {t} WHERE {key} IN (SELECT t.{key} FROM {c} AS c JOIN {t} AS t "
            f"ON {found} WHERE c.job_id = {sql.mark} AND c.before IS NULL AND {as_left})",
            import_id,
        )
        reporter.update(60, "Restoring the rows the import updated")
        sets, origin = sql.restore()
        restored = sql.run(
            f"UPDATE {t} AS t SET {sets} FROM {origin} WHERE c.job_id = {sql.mark} "
            f"AND c.before IS NOT NULL AND {found} AND {as_left}",
            import_id,
        )
        if deleted + restored + len(conflicts) != recorded:
            raise RuntimeError("rows of the import were neither undone nor reported")
        sql.run(f"DELETE FROM {c} WHERE job_id = {sql.mark}", import_id)
        if later and sql.is_sqlite:
            sql.run(f"DROP TABLE temp.{LATER_KEYS}")
        if conflicts:
            _write_conflicts(report, dataset.key, conflicts)
        reporter.check_cancelled()  # last chance: after the commit the undo is kept
        hold_run(connection, job.id, job.attempt)
    return {
        "deletedCount": deleted,
        "restoredCount": restored,
        "conflictCount": len(conflicts),
        "conflicts": conflicts[:CONFLICTS_IN_RESULT],
        # As an import's: the rows left as they are count as skipped, listed in the report.
        "importedCount": deleted + restored,
        "skippedCount": len(conflicts),
        "totalRows": recorded,
        "undoOf": str(job.undo_of),
    }


LATER_KEYS = "undo_later_keys"


def _keys_changed_later(sql: RowSql, dataset: str, import_id: object) -> str | None:
    """A temporary table of the keys later imports of `dataset` recorded changes to (after
    this one's first record), indexed; None when there are none (the usual case)."""
    c = sql.changes
    ((first,),) = sql.rows(f"SELECT min(c.id) FROM {c} AS c WHERE c.job_id = {sql.mark}", import_id)
    later = (
        f"SELECT DISTINCT l.row_key FROM {c} AS l JOIN {Job.__tablename__} AS j "
        f"ON j.id = l.job_id WHERE l.id > {int(first)} AND j.dataset = {sql.mark} "
        f"AND l.job_id <> {sql.mark}"
    )
    ((count,),) = sql.rows(f"SELECT count(*) FROM ({later}) AS later", dataset, import_id)
    if not count:
        return None
    # Gone with the transaction: dropped on commit (Postgres), or by the undo (SQLite).
    lasting = "" if sql.is_sqlite else " ON COMMIT DROP"
    sql.run(f"CREATE TEMPORARY TABLE {LATER_KEYS}{lasting} AS {later}", dataset, import_id)
    sql.run(f"CREATE INDEX {LATER_KEYS}_row_key ON {LATER_KEYS} (row_key)")
    return LATER_KEYS


def _write_conflicts(path: Path, key: str, conflicts: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([key, "reason"])
        for row_key in conflicts:
            writer.writerow([neutralise_formula(row_key), CHANGED_SINCE])
