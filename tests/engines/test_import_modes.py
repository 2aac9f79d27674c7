"""Import modes, dry runs and undo, run by the engines on both databases.

Each test runs on SQLite and on Postgres: the SQL that compares, writes and records rows is
each database's own (see jobs_ui/engines/row_sql.py), so both are held to the same results.
"""

from __future__ import annotations

import contextlib
import hashlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from jobs_ui.db import make_engine, migrate
from jobs_ui.engines.import_job import run_import
from jobs_ui.engines.progress import JobCancelled
from jobs_ui.engines.undo_job import run_undo
from jobs_ui.files import DataFiles
from jobs_ui.jobs.execution import execute_job
from jobs_ui.jobs.store import JobStore
from jobs_ui.migrations.scope import own_tables
from jobs_ui.models import Job, JobKind, JobStatus
from tests.support.services import migrated_database, require_postgres

HEADER = "sku,name,price,stock\n"


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    require_postgres()
    with migrated_database() as url:
        yield url


@dataclass
class Setup:
    engine: Engine
    store: JobStore
    files: DataFiles

    def import_file(self, body: str, *, header: str = HEADER, **params: Any) -> Job:
        """Run an import of the CSV `header` + `body`; `params` go to the job."""
        return self.run(self.new_import(body, header=header, **params))

    def new_import(self, body: str, *, header: str = HEADER, **params: Any) -> Job:
        """A PENDING import of the CSV `header` + `body`; `params` go to the job."""
        job_id = uuid.uuid4()
        upload = self.files.upload_path(job_id, "products.csv")
        upload.parent.mkdir(parents=True, exist_ok=True)
        upload.write_text(header + body)
        job = self.store.create(
            kind=JobKind.IMPORT,
            dataset="products",
            owner="tester",
            job_id=job_id,
            params={
                "upload": self.files.relative(upload),
                "format": "csv",
                "fileName": "p.csv",
                **params,
            },
        )
        return job

    def run(self, job: Job) -> Job:
        done = execute_job(job.id, store=self.store, engine=self.engine, files=self.files)
        assert done is not None
        return done

    def undo(self, imported: Job) -> Job:
        job = self.store.create(kind=JobKind.IMPORT, dataset="products", owner="tester", params={})
        with self.engine.begin() as connection:
            connection.execute(
                text("UPDATE job SET undo_of = :of WHERE id = :id"),
                {"of": _uuid(self.engine, imported.id), "id": _uuid(self.engine, job.id)},
            )
        return self.run(job)

    def rows(self) -> list[tuple[Any, ...]]:
        with self.engine.connect() as connection:
            found = connection.execute(
                text("SELECT sku, name, price, stock FROM products ORDER BY sku")
            )
            return [
                (sku, name, Decimal(str(price)).normalize(), stock)
                for sku, name, price, stock in found
            ]

    def checksum(self) -> str:
        return hashlib.sha256(repr(self.rows()).encode()).hexdigest()

    def execute(self, sql: str, **params: Any) -> None:
        with self.engine.begin() as connection:
            connection.execute(text(sql), params)


def _uuid(engine: Engine, value: uuid.UUID) -> Any:
    return value.hex if engine.dialect.name == "sqlite" else value


@pytest.fixture(params=["sqlite", "postgres"])
def setup(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Setup]:
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'data.sqlite'}")
        migrate(engine)
    else:
        engine = make_engine(request.getfixturevalue("postgres_url"))
        with engine.begin() as connection:
            connection.execute(text(f"TRUNCATE {', '.join(sorted(own_tables()))} RESTART IDENTITY"))
    files = DataFiles(tmp_path / "files")
    files.prepare()
    yield Setup(engine, JobStore(engine), files)
    engine.dispose()


STORED = "A,Apple,1.50,10\nB,Banana,0.25,20\nC,Cherry,3.00,30\n"
# A unchanged, B changed (price), C changed (name and stock), D new
FILE = "A,Apple,1.50,10\nB,Banana,0.30,20\nC,Cherries,3.00,31\nD,Date,2.00,5\n"


def test_insert_adds_new_keys_and_skips_existing_ones(setup: Setup):
    setup.import_file(STORED)
    done = setup.import_file(FILE)
    result = done.result or {}
    assert done.status is JobStatus.COMPLETED, done.error
    assert (result["createdCount"], result["updatedCount"], result["unchangedCount"]) == (1, 0, 0)
    assert (result["skippedCount"], result["importedCount"]) == (3, 1)
    assert setup.rows()[1] == ("B", "Banana", Decimal("0.25"), 20)  # not updated
    assert done.message == "Created 1 row, skipped 3"


def test_upsert_creates_updates_and_leaves_equal_rows_alone(setup: Setup):
    setup.import_file(STORED)
    done = setup.import_file(FILE, mode="upsert")
    result = done.result or {}
    assert done.status is JobStatus.COMPLETED, done.error
    counts = [result[name] for name in ("createdCount", "updatedCount", "unchangedCount")]
    assert counts == [1, 2, 1]
    assert (result["skippedCount"], result["importedCount"]) == (0, 3)
    assert setup.rows() == [
        ("A", "Apple", Decimal("1.5"), 10),
        ("B", "Banana", Decimal("0.3"), 20),
        ("C", "Cherries", Decimal("3"), 31),
        ("D", "Date", Decimal("2"), 5),
    ]


def test_update_skips_unknown_keys_with_the_reason(setup: Setup):
    setup.import_file(STORED)
    done = setup.import_file(FILE, mode="update")
    result = done.result or {}
    assert done.status is JobStatus.COMPLETED, done.error
    assert [
        result[n] for n in ("createdCount", "updatedCount", "unchangedCount", "skippedCount")
    ] == [0, 2, 1, 1]
    (error,) = result["errors"]
    assert (error["row"], error["field"], error["value"]) == (5, "sku", "D")
    assert error["message"] == "No row with this key: sku 'D' is not in products"
    assert result["errorSummary"][0]["message"] == "no row with this key"
    assert [row[0] for row in setup.rows()] == ["A", "B", "C"]


def test_a_field_the_mapping_leaves_out_keeps_its_stored_value(setup: Setup):
    setup.import_file(STORED)
    # An update needs only the key: stock's column is left out, name has none in the file,
    # and neither is required or checked (a blank or bad stock would not refuse the row).
    mapping = {"sku": "code", "price": "price", "stock": None}
    body = "B,0.99,not a number\nC,3.00,\n"
    done = setup.import_file(body, header="code,price,stock\n", mode="update", mapping=mapping)
    result = done.result or {}
    assert done.status is JobStatus.COMPLETED, done.error
    assert (result["updatedCount"], result["unchangedCount"], result["skippedCount"]) == (1, 1, 0)
    assert setup.rows()[1:] == [
        ("B", "Banana", Decimal("0.99"), 20),
        ("C", "Cherry", Decimal("3"), 30),
    ]


def test_upsert_needs_a_column_for_the_fields_a_new_row_needs(setup: Setup):
    mapping = {"sku": "code", "price": "price"}
    done = setup.import_file("B,0.99\n", header="code,price\n", mode="upsert", mapping=mapping)
    assert done.status is JobStatus.FAILED
    assert done.error is not None and "required fields name, stock:" in done.error


def test_a_dry_run_writes_nothing_and_says_what_would_change(setup: Setup):
    setup.import_file(STORED)
    before = setup.checksum()
    done = setup.import_file(FILE, mode="upsert", dryRun=True)
    result = done.result or {}
    assert done.status is JobStatus.COMPLETED, done.error
    assert setup.checksum() == before
    assert result["dryRun"] is True
    assert (result["wouldCreate"], result["wouldUpdate"], result["unchangedCount"]) == (1, 2, 1)
    assert result["changes"] == [
        {"key": "B", "field": "price", "from": "0.25", "to": "0.30"},
        {"key": "C", "field": "name", "from": "Cherry", "to": "Cherries"},
        {"key": "C", "field": "stock", "from": "30", "to": "31"},
    ]
    assert setup.files.checked_rows_path(done.id).is_file()


def test_a_commit_saves_the_checked_rows_with_counts_of_the_table_as_it_is_then(setup: Setup):
    setup.import_file(STORED)
    dry = setup.import_file(FILE, mode="upsert", dryRun=True)
    setup.execute("UPDATE products SET price = 0.30 WHERE sku = 'B'")  # changed in between
    kept = setup.files.checked_rows_path(dry.id)
    commit = setup.store.create(
        kind=JobKind.IMPORT,
        dataset="products",
        owner="tester",
        params={
            **dry.params,
            "dryRun": False,
            "checked": setup.files.relative(kept),
            "totalRows": 4,
            "mapping": (dry.result or {})["mapping"],
        },
    )
    done = setup.run(commit)
    result = done.result or {}
    assert done.status is JobStatus.COMPLETED, done.error
    assert (result["createdCount"], result["updatedCount"], result["unchangedCount"]) == (1, 1, 2)
    assert setup.rows()[2] == ("C", "Cherries", Decimal("3"), 31)


def test_undo_restores_the_table_exactly(setup: Setup):
    setup.import_file(STORED)
    before = setup.checksum()
    imported = setup.import_file(FILE, mode="upsert")
    assert setup.checksum() != before
    undone = setup.undo(imported)
    result = undone.result or {}
    assert undone.status is JobStatus.COMPLETED, undone.error
    assert (result["deletedCount"], result["restoredCount"], result["conflictCount"]) == (1, 2, 0)
    assert setup.checksum() == before
    assert setup.store.get(imported.id).undone_by == undone.id  # type: ignore[union-attr]
    again = setup.undo(imported)
    assert (
        again.status is JobStatus.FAILED and again.error == "This import has been undone already."
    )
    assert setup.checksum() == before


def test_undo_leaves_rows_changed_since_and_counts_them(setup: Setup):
    setup.import_file(STORED)
    imported = setup.import_file(FILE, mode="upsert")
    setup.execute("UPDATE products SET stock = 99 WHERE sku = 'C'")  # changed since
    setup.execute("DELETE FROM products WHERE sku = 'D'")  # created, then deleted by hand
    undone = setup.undo(imported)
    result = undone.result or {}
    assert undone.status is JobStatus.COMPLETED, undone.error
    assert (result["deletedCount"], result["restoredCount"], result["conflictCount"]) == (0, 1, 2)
    assert sorted(result["conflicts"]) == ["C", "D"]
    assert setup.rows() == [
        ("A", "Apple", Decimal("1.5"), 10),
        ("B", "Banana", Decimal("0.25"), 20),
        ("C", "Cherries", Decimal("3"), 99),
    ]
    report = setup.files.error_report_path(undone.id).read_text()
    assert report.splitlines()[0] == "sku,reason" and "C," in report


def test_undo_counts_a_row_a_later_import_changed_and_changed_back(setup: Setup):
    setup.import_file(STORED)
    imported = setup.import_file(FILE, mode="upsert")
    # B went 0.25 -> 0.30 in `imported`; a later import sets 0.99 and a third sets 0.30
    # again: the table reads as `imported` left it, but two imports wrote it since.
    setup.import_file("B,Banana,0.99,20\n", mode="update")
    setup.import_file("B,Banana,0.30,20\n", mode="update")
    undone = setup.undo(imported)
    result = undone.result or {}
    assert undone.status is JobStatus.COMPLETED, undone.error
    assert result["conflicts"] == ["B"]
    assert (result["deletedCount"], result["restoredCount"]) == (1, 1)
    assert ("B", "Banana", Decimal("0.3"), 20) in setup.rows()


def test_undo_ignores_later_imports_that_were_undone_and_other_datasets(setup: Setup):
    setup.import_file(STORED)
    imported = setup.import_file(FILE, mode="upsert")
    later = setup.import_file("B,Banana,0.99,20\n", mode="update")
    assert setup.undo(later).status is JobStatus.COMPLETED
    # The same key text in another dataset's record is another row.
    contacts = setup.store.create(
        kind=JobKind.IMPORT, dataset="contacts", owner="tester", params={}
    )
    setup.execute(
        "INSERT INTO import_change (job_id, row_key, before, after) VALUES (:job, 'B', NULL, '{}')",
        job=_uuid(setup.engine, contacts.id),
    )
    undone = setup.undo(imported)
    result = undone.result or {}
    assert undone.status is JobStatus.COMPLETED, undone.error
    assert (result["deletedCount"], result["restoredCount"], result["conflictCount"]) == (1, 2, 0)


def test_undo_of_an_insert_deletes_exactly_what_it_created(setup: Setup):
    setup.import_file(STORED)
    before = setup.checksum()
    imported = setup.import_file(FILE)
    undone = setup.undo(imported)
    assert undone.status is JobStatus.COMPLETED, undone.error
    assert (undone.result or {})["deletedCount"] == 1
    assert setup.checksum() == before


class Unheard:
    """A reporter that writes nothing anywhere: only the save's own check can stop a run."""

    def update(self, progress: int, message: str, **_: Any) -> None:
        return None

    def check_cancelled(self) -> None:
        return None

    def writes_held(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()


def test_a_run_given_up_on_keeps_none_of_its_rows(setup: Setup):
    pending = setup.new_import(FILE)
    given_up = setup.store.start(pending.id)  # run 1, whose worker then looks dead
    setup.store.requeue_stale(older_than=timedelta(seconds=-1), max_attempts=3)
    current = setup.store.start(pending.id)
    assert (given_up.attempt, current.attempt) == (1, 2)
    with pytest.raises(JobCancelled):
        run_import(given_up, engine=setup.engine, files=setup.files, reporter=Unheard())
    assert setup.rows() == []
    result = run_import(current, engine=setup.engine, files=setup.files, reporter=Unheard())
    assert result["createdCount"] == 4 and len(setup.rows()) == 4


def test_an_undo_whose_run_was_given_up_on_undoes_nothing(setup: Setup):
    imported = setup.import_file(FILE)
    before = setup.checksum()
    undo = setup.store.create(kind=JobKind.IMPORT, dataset="products", owner="tester", params={})
    setup.execute(
        "UPDATE job SET undo_of = :of WHERE id = :id",
        of=_uuid(setup.engine, imported.id),
        id=_uuid(setup.engine, undo.id),
    )
    given_up = setup.store.start(undo.id)
    setup.store.requeue_stale(older_than=timedelta(seconds=-1), max_attempts=3)
    setup.store.start(undo.id)
    with pytest.raises(JobCancelled):
        run_undo(given_up, engine=setup.engine, files=setup.files, reporter=Unheard())
    assert setup.checksum() == before
    assert setup.store.get(imported.id).undone_by is None
