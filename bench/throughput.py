"""Figures 4 and 5: rows per second through the import and export engines, in flat memory.

Each measurement runs in a fresh subprocess (so peak RSS is its own), on a fresh database,
against a plain baseline on the same table: `csv.reader` + `executemany` for imports, and
`SELECT` + `csv.writer` for exports. Imports go into SQLite, and into Postgres too when it
answers (the goal is judged on SQLite, the default set-up).

No client is involved: the engines run in-process, as a runner runs them once a job is
created. Access control (who may import or export which dataset, quotas) decides at create
time, before the measured run, so these figures are unchanged by it.
"""

from __future__ import annotations

import csv
import itertools
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg

from bench.postgres import NotMeasured, fresh_database
from bench.processes import ROOT
from bench.stats import Figure


def write_contacts_csv(path: Path, rows: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["name", "email", "company", "phone"])
        for number in range(rows):
            writer.writerow(
                [f"Person {number}", f"person{number}@example.com", f"Company {number % 997}", ""]
            )


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class PeakRss:
    """Samples this process's RSS every 10 ms (ru_maxrss would include start-up)."""

    def __init__(self) -> None:
        self.start = rss_mb()
        self.peak = self.start
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, rss_mb())

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth_mb(self) -> float:
        return round(self.peak - self.start, 1)


# --- the measurements, each run inside its own subprocess -------------------------------


def _engine_and_store(workdir: Path, database_url: str = "") -> tuple[Any, Any, Any]:
    """SQLite in `workdir`, or the (already migrated) database at `database_url`."""
    from jobs_ui.db import make_engine, migrate
    from jobs_ui.files import DataFiles
    from jobs_ui.jobs.store import JobStore

    engine = make_engine(database_url or f"sqlite:///{workdir / 'bench.db'}")
    migrate(engine)
    files = DataFiles(workdir)
    files.prepare()
    return engine, JobStore(engine), files


def measure_import(workdir: Path, source: Path, database_url: str) -> dict[str, Any]:
    from jobs_ui.jobs.execution import execute_job
    from jobs_ui.models import JobKind

    engine, store, files = _engine_and_store(workdir, database_url)
    upload = files.upload_path(uuid.uuid4(), source.name)
    upload.parent.mkdir(parents=True)
    shutil.copyfile(source, upload)  # a link would resolve outside the data dir
    params = {"upload": files.relative(upload), "format": "csv", "fileName": source.name}
    job = store.create(kind=JobKind.IMPORT, dataset="contacts", owner="bench", params=params)
    with PeakRss() as memory:
        began = time.perf_counter()
        done = execute_job(job.id, store=store, engine=engine, files=files)
        seconds = time.perf_counter() - began
    assert done is not None and done.result is not None, done
    rows = done.result["importedCount"]
    return {"rows": rows, "seconds": seconds, "rss_growth_mb": memory.growth_mb}


def measure_import_baseline(workdir: Path, source: Path, database_url: str) -> dict[str, Any]:
    _engine_and_store(workdir, database_url)  # the same schema, made the same way
    connection: Any = (
        psycopg.connect(database_url.replace("+psycopg", ""))
        if database_url
        else sqlite3.connect(workdir / "bench.db")
    )
    marks = "%s, %s, %s, %s" if database_url else "?, ?, ?, ?"
    with PeakRss() as memory:
        began = time.perf_counter()
        with source.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            next(reader)
            while batch := list(itertools.islice(reader, 10_000)):
                connection.cursor().executemany(
                    f"INSERT INTO contacts (name, email, company, phone) VALUES ({marks})", batch
                )
        connection.commit()
        seconds = time.perf_counter() - began
    rows = connection.execute("SELECT count(*) FROM contacts").fetchone()[0]
    connection.close()
    return {"rows": rows, "seconds": seconds, "rss_growth_mb": memory.growth_mb}


def measure_export(workdir: Path, file_format: str) -> dict[str, Any]:
    from jobs_ui.jobs.execution import execute_job
    from jobs_ui.models import JobKind

    engine, store, files = _engine_and_store(workdir)
    job = store.create(
        kind=JobKind.EXPORT, dataset="contacts", owner="bench", params={"format": file_format}
    )
    with PeakRss() as memory:
        began = time.perf_counter()
        done = execute_job(job.id, store=store, engine=engine, files=files)
        seconds = time.perf_counter() - began
    assert done is not None and done.result is not None, done
    return {"rows": done.result["rowCount"], "seconds": seconds, "rss_growth_mb": memory.growth_mb}


def measure_export_baseline(workdir: Path) -> dict[str, Any]:
    connection = sqlite3.connect(workdir / "bench.db")
    target = workdir / "baseline.csv"
    with PeakRss() as memory:
        began = time.perf_counter()
        cursor = connection.execute("SELECT name, email, company, phone FROM contacts ORDER BY id")
        with target.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["name", "email", "company", "phone"])
            while rows := cursor.fetchmany(5_000):
                writer.writerows(rows)
        seconds = time.perf_counter() - began
    rows = connection.execute("SELECT count(*) FROM contacts").fetchone()[0]
    return {"rows": rows, "seconds": seconds, "rss_growth_mb": memory.growth_mb}


def measure_export_xlsx_openpyxl(workdir: Path) -> dict[str, Any]:
    """Figure 12's baseline: the rows written by openpyxl's write-only mode, as exports were
    written before (each value converted, the header bold)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    from jobs_ui.engines.formulas import neutralise_formula

    connection = sqlite3.connect(workdir / "bench.db")
    columns = ["name", "email", "company", "phone"]
    with PeakRss() as memory:
        began = time.perf_counter()
        cursor = connection.execute("SELECT name, email, company, phone FROM contacts ORDER BY id")
        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet("data")
        header = [WriteOnlyCell(sheet, value=name) for name in columns]
        for cell in header:
            cell.font = Font(bold=True)
        sheet.append(header)
        rows = 0
        while batch := cursor.fetchmany(5_000):
            for row in batch:
                sheet.append([neutralise_formula(v) if isinstance(v, str) else v for v in row])
            rows += len(batch)
        workbook.save(workdir / "baseline.xlsx")
        seconds = time.perf_counter() - began
    return {"rows": rows, "seconds": seconds, "rss_growth_mb": memory.growth_mb}


XLSX_RSS_GOAL_MB = 50  # "flat memory": a streaming writer holds a few rows at a time


MEASUREMENTS = {
    "import": lambda workdir, source, _fmt, url: measure_import(workdir, source, url),
    "import_baseline": lambda workdir, source, _fmt, url: measure_import_baseline(
        workdir, source, url
    ),
    "export": lambda workdir, _source, fmt, _url: measure_export(workdir, fmt),
    "export_baseline": lambda workdir, _source, _fmt, _url: measure_export_baseline(workdir),
    "export_xlsx_openpyxl": lambda workdir, _source, _fmt, _url: measure_export_xlsx_openpyxl(
        workdir
    ),
}


def in_subprocess(
    kind: str, workdir: Path, source: Path, file_format: str = "csv", database_url: str = ""
) -> dict[str, Any]:
    """One measurement in a fresh process; `database_url` empty means SQLite in `workdir`."""
    measured = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.throughput",
            kind,
            str(workdir),
            str(source),
            file_format,
            database_url,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    if measured.returncode != 0:
        raise RuntimeError(
            f"the {kind} measurement failed (exit {measured.returncode}):\n"
            f"{measured.stderr[-3000:]}"
        )
    result = json.loads(measured.stdout.strip().splitlines()[-1])
    result["rows_per_s"] = round(result["rows"] / result["seconds"])
    return result


def postgres_imports(root: Path, source: Path) -> dict[str, Any]:
    """The import and its baseline into Postgres, each into a fresh database, if it answers."""
    results: dict[str, Any] = {}
    try:
        for kind, name in (("import", "ours"), ("import_baseline", "baseline")):
            with fresh_database() as url:
                results[name] = in_subprocess(kind, root / f"pg-{name}", source, "csv", url)
    except NotMeasured as reason:
        if os.environ.get("CI") == "true":
            raise
        return {"not_measured": f"not measured: {reason}"}
    results["ratio"] = round(results["ours"]["rows_per_s"] / results["baseline"]["rows_per_s"], 2)
    return results


def run(*, smoke: bool = False) -> list[Figure]:
    rows = 2_000 if smoke else 1_000_000
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        source = root / "contacts.csv"
        write_contacts_csv(source, rows)
        ours = in_subprocess("import", root / "ours", source)
        baseline = in_subprocess("import_baseline", root / "baseline", source)
        exports = {
            fmt: in_subprocess("export", root / "ours", source, fmt)
            for fmt in ("csv", "jsonl", "xlsx")
        }
        export_baseline = in_subprocess("export_baseline", root / "ours", source)
        xlsx_baseline = in_subprocess("export_xlsx_openpyxl", root / "ours", source)
        postgres = postgres_imports(root, source)
    import_ratio = round(ours["rows_per_s"] / baseline["rows_per_s"], 2)
    on_postgres = (
        f"; Postgres: {postgres['ours']['rows_per_s']:,} rows/s against "
        f"{postgres['baseline']['rows_per_s']:,} ({postgres['ratio']}x)"
        if "ratio" in postgres
        else f"; Postgres {postgres['not_measured']}"
    )
    export_ratio = round(exports["csv"]["rows_per_s"] / export_baseline["rows_per_s"], 2)
    xlsx = exports["xlsx"]
    xlsx_ratio = round(xlsx["rows_per_s"] / xlsx_baseline["rows_per_s"], 2)
    return [
        Figure(
            name=f"4. Import throughput, {rows:,}-row contacts CSV into SQLite (and Postgres)",
            ours=(
                f"{ours['rows_per_s']:,} rows/s, peak RSS +{ours['rss_growth_mb']} MB" + on_postgres
            ),
            baseline=f"csv.reader + executemany: {baseline['rows_per_s']:,} rows/s",
            ratio=import_ratio,
            goal=">= 0.5x baseline, RSS growth <= 100 MB",
            met=import_ratio >= 0.5 and ours["rss_growth_mb"] <= 100,
            details={"ours": ours, "baseline": baseline, "postgres": postgres},
        ),
        Figure(
            name=f"5. Export throughput, {rows:,} rows",
            ours=", ".join(
                f"{fmt} {result['rows_per_s']:,} rows/s (+{result['rss_growth_mb']} MB)"
                for fmt, result in exports.items()
            ),
            baseline=f"SELECT + csv.writer: {export_baseline['rows_per_s']:,} rows/s",
            ratio=export_ratio,
            goal="CSV >= 0.8x baseline, flat memory",
            met=export_ratio >= 0.8,
            details={"ours": exports, "baseline": export_baseline},
        ),
        Figure(
            name=f"12. XLSX export, {rows:,} rows",
            ours=f"{xlsx['rows_per_s']:,} rows/s, peak RSS +{xlsx['rss_growth_mb']} MB",
            baseline=(
                f"openpyxl write-only (the writer before): {xlsx_baseline['rows_per_s']:,} "
                f"rows/s, +{xlsx_baseline['rss_growth_mb']} MB"
            ),
            ratio=xlsx_ratio,
            goal=f">= 2x baseline, RSS growth <= {XLSX_RSS_GOAL_MB} MB",
            met=xlsx_ratio >= 2 and xlsx["rss_growth_mb"] <= XLSX_RSS_GOAL_MB,
            details={"ours": xlsx, "baseline": xlsx_baseline},
        ),
    ]


def _main() -> None:
    kind, workdir, source, file_format, database_url = sys.argv[1:6]
    path = Path(workdir)
    path.mkdir(parents=True, exist_ok=True)
    print(json.dumps(MEASUREMENTS[kind](path, Path(source), file_format, database_url)))


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_NOFILE, resource.getrlimit(resource.RLIMIT_NOFILE))
    _main()
