"""Figures 9, 10 and 11: an upsert, a dry run and its commit, and an undo, of 1,000,000 rows.

9. An upsert (mode "upsert") of the contacts CSV of `bench.throughput` into a table that
   already holds its rows (a straight import of them), with every other row's company
   changed in the file, against figure 4's `csv.reader` + `executemany` insert of the same
   rows into an empty table.
10. A dry run (mode "insert", into an empty table) and then its commit, as
   `JobCommands.commit` makes it, against one straight import of the same file.
11. The undo of that straight import, against the import itself.

Each job runs in a fresh process, so its peak RSS is its own, on SQLite in a fresh work dir
and on a fresh Postgres database (`bench.postgres`) per measurement, when Postgres answers.
The engines run in-process, as a runner runs them once a job is created (see
`bench.throughput`); the jobs' results are checked, so a figure never times a job that did
something else (an upsert that found every row changed, an undo with conflicts).
"""

from __future__ import annotations

import contextlib
import csv
import multiprocessing
import os
import shutil
import tempfile
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.postgres import NotMeasured, fresh_database
from bench.stats import Figure
from bench.throughput import (
    PeakRss,
    _engine_and_store,
    measure_import,
    measure_import_baseline,
    write_contacts_csv,
)

if TYPE_CHECKING:  # the app is imported by the measuring processes only
    from sqlalchemy import Engine

    from jobs_ui.files import DataFiles
    from jobs_ui.jobs.store import JobStore

TIMEOUT_S = 900  # one job of a million rows, as bench.throughput allows
RSS_GOAL_MB = 100
UPSERT_GOAL = 0.4  # of the baseline's rows/s, at least
DRY_RUN_GOAL = 1.3  # of the straight import's time, at most (dry run + commit)
UNDO_GOAL = 1.0  # of the import's time, at most

# A fresh interpreter costs ~2 s of imports before it measures anything, and these figures
# start a dozen processes: forked from a server that has imported the app once, each is
# still fresh (its RSS growth is measured from its own start) but starts in milliseconds.
_PROCESSES = multiprocessing.get_context("forkserver")
APP_MODULES = ("jobs_ui.db", "jobs_ui.files", "jobs_ui.jobs.execution", "jobs_ui.jobs.store")


# --- the files -------------------------------------------------------------------------


def write_half_changed(source: Path, target: Path) -> None:
    """`source` (as `write_contacts_csv` writes it) with every other row's company changed."""
    with (
        source.open(newline="", encoding="utf-8") as reading,
        target.open("w", newline="", encoding="utf-8") as writing,
    ):
        reader, writer = csv.reader(reading), csv.writer(writing)
        writer.writerow(next(reader))
        for number, (name, email, company, phone) in enumerate(reader):
            changed = f"{company} (moved)" if number % 2 == 0 else company
            writer.writerow([name, email, changed, phone])


# --- the measurements, each run inside its own process ---------------------------------


@dataclass(frozen=True)
class _App:
    """The app's database engine, job store and data dir, as a runner has them."""

    engine: Engine
    store: JobStore
    files: DataFiles

    @classmethod
    def at(cls, workdir: Path, database_url: str) -> _App:
        return cls(*_engine_and_store(workdir, database_url))

    def upload(self, source: Path, **params: Any) -> dict[str, Any]:
        """An import's params for `source`, copied into the data dir as an upload is."""
        upload = self.files.upload_path(uuid.uuid4(), source.name)
        upload.parent.mkdir(parents=True)
        shutil.copyfile(source, upload)  # a link would resolve outside the data dir
        return {
            "upload": self.files.relative(upload),
            "format": "csv",
            "fileName": source.name,
            **params,
        }

    def create_import(self, **create: Any) -> uuid.UUID:
        from jobs_ui.models import JobKind

        job = self.store.create(kind=JobKind.IMPORT, dataset="contacts", owner="bench", **create)
        return job.id

    def run(self, job_id: uuid.UUID) -> tuple[dict[str, Any], dict[str, Any]]:
        """Run one created job to its end: its result, and its seconds and RSS growth."""
        from jobs_ui.jobs.execution import execute_job

        with PeakRss() as memory:
            began = time.perf_counter()
            done = execute_job(job_id, store=self.store, engine=self.engine, files=self.files)
            seconds = time.perf_counter() - began
        assert done is not None and done.result is not None, done
        return done.result, {"seconds": seconds, "rss_growth_mb": memory.growth_mb}


def measure_upsert(workdir: Path, source: Path, database_url: str) -> dict[str, Any]:
    app = _App.at(workdir, database_url)
    result, measured = app.run(app.create_import(params=app.upload(source, mode="upsert")))
    counts = {name: result[f"{name}Count"] for name in ("created", "updated", "unchanged")}
    return {"rows": result["totalRows"], **counts, **measured}


def measure_dry_run(workdir: Path, source: Path, database_url: str) -> dict[str, Any]:
    app = _App.at(workdir, database_url)
    job_id = app.create_import(params=app.upload(source, mode="insert", dryRun=True))
    result, measured = app.run(job_id)
    return {"rows": result["wouldCreate"], "job": str(job_id), **measured}


def measure_commit(workdir: Path, dry_run: str, database_url: str) -> dict[str, Any]:
    """The commit of `dry_run`; its seconds include making the job (the user waits for it)."""
    app = _App.at(workdir, database_url)
    began = time.perf_counter()
    commit_id = _claimed_commit(app, uuid.UUID(dry_run))
    claimed = time.perf_counter() - began
    result, measured = app.run(commit_id)
    measured.update(seconds=claimed + measured["seconds"], claim_seconds=round(claimed, 3))
    return {"rows": result["createdCount"], **measured}


def _claimed_commit(app: _App, dry_run: uuid.UUID) -> uuid.UUID:
    """The commit job of `dry_run`, made as `JobCommands.commit` makes it (its access checks
    and its runner aside): the checked rows moved to the commit's own path, the upload
    linked for a retry, and the dry run's params with what it found."""
    dry, files, commit_id = app.store.get(dry_run), app.files, uuid.uuid4()
    assert dry is not None and dry.result is not None, dry
    taken = files.checked_rows_path(commit_id)
    os.rename(files.checked_rows_path(dry.id), taken)
    source = files.resolve(dry.params["upload"])
    upload = files.upload_path(commit_id, source.name)
    upload.parent.mkdir(parents=True)
    os.link(source, upload)
    params = {
        **dry.params,
        "upload": files.relative(upload),
        "dryRun": False,
        "checked": files.relative(taken),
        "totalRows": dry.result["totalRows"],
        "mapping": dry.result.get("mapping") or dry.params.get("mapping"),
    }
    return app.create_import(params=params, job_id=commit_id, commit_of=dry.id)


def measure_undo(workdir: Path, database_url: str) -> dict[str, Any]:
    """Undo the one import in the database (`measure_import`'s, which does not say its id)."""
    from sqlmodel import Session, select

    from jobs_ui.models import Job

    app = _App.at(workdir, database_url)
    with Session(app.engine) as session:
        (imported,) = session.exec(select(Job)).all()
    params = {"fileName": imported.params.get("fileName")}  # as `JobCommands.undo` gives
    result, measured = app.run(app.create_import(params=params, undo_of=imported.id))
    assert result["conflictCount"] == 0, result
    return {"rows": result["deletedCount"] + result["restoredCount"], **measured}


@dataclass(frozen=True)
class _Failed:
    """A measurement that raised, as its process reports it."""

    traceback: str


def _measure_and_send(
    sender: Connection, measure: Callable[..., dict[str, Any]], args: tuple[Any, ...]
) -> None:
    try:
        outcome: dict[str, Any] | _Failed = measure(*args)
    except BaseException:
        outcome = _Failed(traceback.format_exc())
    sender.send(outcome)
    sender.close()


def in_fresh_process(measure: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """`measure(*args)` in a new process of its own (see `_PROCESSES`); adds rows/s."""
    receiver, sender = _PROCESSES.Pipe(duplex=False)
    process = _PROCESSES.Process(target=_measure_and_send, args=(sender, measure, args))
    process.start()
    sender.close()
    try:
        if not receiver.poll(TIMEOUT_S):
            raise RuntimeError(f"{measure.__name__} took more than {TIMEOUT_S} s")
        outcome = receiver.recv()
    except EOFError:
        process.join()
        raise RuntimeError(f"{measure.__name__} died (exit {process.exitcode})") from None
    finally:
        receiver.close()
        process.join(timeout=10)
        if process.is_alive():
            process.kill()
            process.join()
    if isinstance(outcome, _Failed):
        raise RuntimeError(f"{measure.__name__} failed:\n{outcome.traceback[-3000:]}")
    result: dict[str, Any] = outcome
    result["rows_per_s"] = round(result["rows"] / result["seconds"])
    return result


# --- one database's measurements --------------------------------------------------------


@contextlib.contextmanager
def _database(postgres: bool) -> Iterator[str]:
    """A fresh Postgres database's URL, or "" (SQLite in the measurement's work dir)."""
    if postgres:
        with fresh_database() as url:
            yield url
    else:
        yield ""


def measure_database(
    root: Path, source: Path, changed: Path, rows: int, postgres: bool
) -> dict[str, Any]:
    """All three figures' jobs on one database (SQLite, or Postgres), for a file of `rows`."""
    upsert = _upsert_jobs(root, source, changed, postgres)
    undo = _undo_jobs(root, source, postgres)
    dry_run = _dry_run_jobs(root, source, postgres)
    # What each job did, checked: a figure of jobs that did something else is no figure.
    done = upsert["upsert"]
    assert (done["updated"], done["unchanged"]) == ((rows + 1) // 2, rows // 2), done
    jobs = [upsert["baseline"], upsert["seed"], undo["import"], undo["undo"], *dry_run.values()]
    assert all(job["rows"] == rows for job in jobs), jobs
    imported = undo["import"]  # figure 10's straight import is the one figure 11 undoes
    dry_run_and_commit = dry_run["dry_run"]["seconds"] + dry_run["commit"]["seconds"]
    return {
        **upsert,
        "upsert_ratio": round(done["rows_per_s"] / upsert["baseline"]["rows_per_s"], 2),
        **undo,
        **dry_run,
        "dry_run_and_commit_s": round(dry_run_and_commit, 2),
        "dry_run_ratio": round(dry_run_and_commit / imported["seconds"], 2),
        "undo_ratio": round(undo["undo"]["seconds"] / imported["seconds"], 2),
    }


def _upsert_jobs(root: Path, source: Path, changed: Path, postgres: bool) -> dict[str, Any]:
    """Figure 9: the baseline into an empty table; the upsert into one holding the rows."""
    baseline_dir, upsert_dir = _workdir(root / "baseline"), _workdir(root / "upsert")
    with _database(postgres) as url:
        baseline = in_fresh_process(measure_import_baseline, baseline_dir, source, url)
    with _database(postgres) as url:
        # The rows as an import stores them: the baseline keeps an empty phone as '' where
        # an import stores NULL, so every row of the upsert would differ from its table.
        seed = in_fresh_process(measure_import, upsert_dir, source, url)
        upsert = in_fresh_process(measure_upsert, upsert_dir, changed, url)
    return {"baseline": baseline, "seed": seed, "upsert": upsert}


def _undo_jobs(root: Path, source: Path, postgres: bool) -> dict[str, Any]:
    """Figure 11 (and figure 10's straight import): an import into an empty table, undone."""
    workdir = _workdir(root / "undo")
    with _database(postgres) as url:
        imported = in_fresh_process(measure_import, workdir, source, url)
        undo = in_fresh_process(measure_undo, workdir, url)
    return {"import": imported, "undo": undo}


def _dry_run_jobs(root: Path, source: Path, postgres: bool) -> dict[str, Any]:
    """Figure 10: a dry run into an empty table, then its commit."""
    workdir = _workdir(root / "dry-run")
    with _database(postgres) as url:
        dry_run = in_fresh_process(measure_dry_run, workdir, source, url)
        commit = in_fresh_process(measure_commit, workdir, dry_run["job"], url)
    return {"dry_run": dry_run, "commit": commit}


def _workdir(path: Path) -> Path:
    path.mkdir(parents=True)
    return path


def measure_postgres(root: Path, source: Path, changed: Path, rows: int) -> dict[str, Any]:
    """`measure_database` on Postgres, or why it was not measured (outside CI)."""
    try:
        return measure_database(root, source, changed, rows, postgres=True)
    except NotMeasured as reason:
        if os.environ.get("CI") == "true":
            raise
        return {"not_measured": f"not measured: {reason}"}


# --- the figures -----------------------------------------------------------------------

Measured = dict[str, dict[str, Any]]  # by database name: measure_database's results


def _each(measured: Measured, say: Callable[[dict[str, Any]], str]) -> str:
    """One clause per database, or why it was not measured."""
    return "; ".join(
        f"{name}: {result['not_measured'] if 'not_measured' in result else say(result)}"
        for name, result in measured.items()
    )


def _met(measured: Measured, goal: Callable[[dict[str, Any]], bool]) -> bool:
    """The goal holds on every database measured."""
    return all(goal(result) for result in measured.values() if "not_measured" not in result)


def _details(measured: Measured, *names: str) -> dict[str, Any]:
    """The results a figure is made of, by database."""
    return {
        database: {name: result[name] for name in names} if "not_measured" not in result else result
        for database, result in measured.items()
    }


def _seconds(result: dict[str, Any]) -> str:
    return f"{result['seconds']:.2f} s (+{result['rss_growth_mb']} MB)"


def upsert_figure(rows: int, measured: Measured) -> Figure:
    def ours(result: dict[str, Any]) -> str:
        upsert = result["upsert"]
        return (
            f"{upsert['rows_per_s']:,} rows/s ({upsert['updated']:,} updated, "
            f"{upsert['unchanged']:,} unchanged), peak RSS +{upsert['rss_growth_mb']} MB "
            f"({result['upsert_ratio']}x)"
        )

    return Figure(
        name=(
            f"9. Upsert of a {rows:,}-row contacts CSV over the same rows, every other one "
            "changed, in SQLite and Postgres"
        ),
        ours=_each(measured, ours),
        baseline=(
            "csv.reader + executemany insert of the same rows into the empty table: "
            + _each(measured, lambda result: f"{result['baseline']['rows_per_s']:,} rows/s")
        ),
        ratio=measured["SQLite"]["upsert_ratio"],
        goal=f">= {UPSERT_GOAL}x baseline, RSS growth <= {RSS_GOAL_MB} MB, on each database",
        met=_met(
            measured,
            lambda result: (
                result["upsert_ratio"] >= UPSERT_GOAL
                and result["upsert"]["rss_growth_mb"] <= RSS_GOAL_MB
            ),
        ),
        details=_details(measured, "baseline", "seed", "upsert", "upsert_ratio"),
    )


def dry_run_figure(rows: int, measured: Measured) -> Figure:
    def ours(result: dict[str, Any]) -> str:
        return (
            f"dry run {_seconds(result['dry_run'])} + commit {_seconds(result['commit'])} = "
            f"{result['dry_run_and_commit_s']:.2f} s ({result['dry_run_ratio']}x)"
        )

    return Figure(
        name=(
            f"10. Dry run + commit of a {rows:,}-row contacts CSV into an empty table, in SQLite "
            "and Postgres"
        ),
        ours=_each(measured, ours),
        baseline="one straight import of the same file: "
        + _each(measured, lambda result: _seconds(result["import"])),
        ratio=measured["SQLite"]["dry_run_ratio"],
        goal=(
            f"<= {DRY_RUN_GOAL}x the straight import's time, RSS growth <= {RSS_GOAL_MB} MB "
            "per job, on each database"
        ),
        met=_met(
            measured,
            lambda result: (
                result["dry_run_ratio"] <= DRY_RUN_GOAL
                and max(result[job]["rss_growth_mb"] for job in ("dry_run", "commit"))
                <= RSS_GOAL_MB
            ),
        ),
        details=_details(
            measured, "import", "dry_run", "commit", "dry_run_and_commit_s", "dry_run_ratio"
        ),
    )


def undo_figure(rows: int, measured: Measured) -> Figure:
    def ours(result: dict[str, Any]) -> str:
        return f"undo {_seconds(result['undo'])} ({result['undo_ratio']}x)"

    return Figure(
        name=(
            f"11. Undo of a {rows:,}-row contacts import into an empty table, in SQLite and "
            "Postgres"
        ),
        ours=_each(measured, ours),
        baseline="the import it undoes: "
        + _each(measured, lambda result: _seconds(result["import"])),
        ratio=measured["SQLite"]["undo_ratio"],
        goal=f"<= {UNDO_GOAL}x the import's time, RSS growth <= {RSS_GOAL_MB} MB, on each database",
        met=_met(
            measured,
            lambda result: (
                result["undo_ratio"] <= UNDO_GOAL and result["undo"]["rss_growth_mb"] <= RSS_GOAL_MB
            ),
        ),
        details=_details(measured, "import", "undo", "undo_ratio"),
    )


def run(*, smoke: bool = False) -> list[Figure]:
    rows = 2_000 if smoke else 1_000_000
    # The processes fork from a server that has this module, and so the app, imported.
    _PROCESSES.set_forkserver_preload([__name__, *APP_MODULES])
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        source, changed = root / "contacts.csv", root / "changed.csv"
        write_contacts_csv(source, rows)
        write_half_changed(source, changed)
        measured = {
            "SQLite": measure_database(root / "sqlite", source, changed, rows, postgres=False),
            "Postgres": measure_postgres(root / "postgres", source, changed, rows),
        }
    return [figure(rows, measured) for figure in (upsert_figure, dry_run_figure, undo_figure)]
