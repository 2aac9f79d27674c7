"""Figure 8: a 1,000,000-row contacts XLSX imported against the CSV of the same rows, loaded
whole (within a budget above its estimate) and streamed (a budget below it), and how long
a preview of a 100 MB CSV and of that workbook takes.

Each import runs in a fresh subprocess on a fresh SQLite database (see `bench.throughput`),
so its peak RSS is its own. The workbook is written by openpyxl, as many exporters do.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from pathlib import Path
from typing import Any

from bench.processes import ROOT
from bench.stats import Figure
from bench.throughput import PeakRss, _engine_and_store, write_contacts_csv

MB = 1024 * 1024
LOADED_BUDGET = 512 * MB  # above the 1M-row workbook's estimate
STREAMED_BUDGET = 16 * MB  # below it


def write_contacts_xlsx(path: Path, rows: int) -> None:
    """The rows of `write_contacts_csv`, as openpyxl writes a workbook."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("contacts")
    sheet.append(["name", "email", "company", "phone"])
    for number in range(rows):
        sheet.append(
            [f"Person {number}", f"person{number}@example.com", f"Company {number % 997}", ""]
        )
    workbook.save(path)


def write_csv_of_size(path: Path, size: int) -> None:
    rows = 1000
    write_contacts_csv(path, rows)
    while path.stat().st_size < size:
        rows *= 2
        write_contacts_csv(path, rows)


def measure_import(workdir: Path, source: Path, file_format: str, budget: int) -> dict[str, Any]:
    from jobs_ui.engines.limits import FileLimits
    from jobs_ui.jobs.execution import execute_job
    from jobs_ui.models import JobKind

    engine, store, files = _engine_and_store(workdir)
    upload = files.upload_path(uuid.uuid4(), source.name)
    upload.parent.mkdir(parents=True)
    shutil.copyfile(source, upload)
    params = {"upload": files.relative(upload), "format": file_format, "fileName": source.name}
    job = store.create(kind=JobKind.IMPORT, dataset="contacts", owner="bench", params=params)
    limits = FileLimits(xlsx_memory_bytes=budget)
    with PeakRss() as memory:
        began = time.perf_counter()
        done = execute_job(job.id, store=store, engine=engine, files=files, limits=limits)
        seconds = time.perf_counter() - began
    assert done is not None and done.result is not None, done
    return {
        "rows": done.result["importedCount"],
        "seconds": seconds,
        "rss_growth_mb": memory.growth_mb,
    }


def measure_estimate(source: Path) -> dict[str, Any]:
    from jobs_ui.engines.formats.xlsx_package import estimated_bytes, read_package

    began = time.perf_counter()
    with zipfile.ZipFile(source) as archive:
        package = read_package(archive)
        cost = estimated_bytes(archive, package.parts[package.sheets[0]], package.strings)
    return {"estimate_mb": round(cost / MB, 1), "seconds": round(time.perf_counter() - began, 3)}


def measure_preview(source: Path, file_format: str) -> dict[str, Any]:
    from jobs_ui.engines.formats import FileFormat
    from jobs_ui.engines.limits import FileLimits
    from jobs_ui.engines.preview import preview_file

    began = time.perf_counter()
    preview_file(source, FileFormat(file_format), FileLimits())
    return {"seconds": round(time.perf_counter() - began, 3), "mb": source.stat().st_size / MB}


def in_subprocess(kind: str, *args: str) -> dict[str, Any]:
    measured = subprocess.run(
        [sys.executable, "-m", "bench.xlsx_import", kind, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
    )
    if measured.returncode != 0:
        raise RuntimeError(f"the {kind} measurement failed:\n{measured.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(measured.stdout.strip().splitlines()[-1])
    if "rows" in result:
        result["rows_per_s"] = round(result["rows"] / result["seconds"])
    return result


def run(*, smoke: bool = False) -> list[Figure]:
    rows = 2_000 if smoke else 1_000_000
    csv_size = (1 if smoke else 100) * MB
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        csv_source, xlsx_source = root / "contacts.csv", root / "contacts.xlsx"
        write_contacts_csv(csv_source, rows)
        write_contacts_xlsx(xlsx_source, rows)
        big_csv = root / "big.csv"
        write_csv_of_size(big_csv, csv_size)
        estimate = in_subprocess("estimate", str(xlsx_source))
        loaded_budget = max(LOADED_BUDGET, int(estimate["estimate_mb"] * MB) + MB)
        streamed_budget = min(STREAMED_BUDGET, int(estimate["estimate_mb"] * MB) - 1)
        imports = {
            name: in_subprocess("import", str(root / name), str(source), fmt, str(budget))
            for name, source, fmt, budget in (
                ("csv", csv_source, "csv", loaded_budget),
                ("xlsx_loaded", xlsx_source, "xlsx", loaded_budget),
                ("xlsx_streamed", xlsx_source, "xlsx", streamed_budget),
            )
        }
        previews = {
            "csv": in_subprocess("preview", str(big_csv), "csv"),
            "xlsx": in_subprocess("preview", str(xlsx_source), "xlsx"),
        }
    csv_rate = imports["csv"]["rows_per_s"]
    loaded, streamed = imports["xlsx_loaded"], imports["xlsx_streamed"]
    ratio = round(loaded["rows_per_s"] / csv_rate, 2)
    within = loaded["rss_growth_mb"] * MB <= loaded_budget
    flat = streamed["rss_growth_mb"] <= 100
    quick = all(preview["seconds"] < 1 for preview in previews.values())
    return [
        Figure(
            name=f"8. XLSX import, {rows:,}-row contacts workbook into SQLite (and previews)",
            ours=(
                f"loaded whole (budget {loaded_budget // MB} MB, estimate "
                f"{estimate['estimate_mb']} MB in {estimate['seconds']} s): "
                f"{loaded['rows_per_s']:,} rows/s, peak RSS +{loaded['rss_growth_mb']} MB; "
                f"streamed (budget {streamed_budget // MB} MB): {streamed['rows_per_s']:,} "
                f"rows/s, +{streamed['rss_growth_mb']} MB; preview of a "
                f"{previews['csv']['mb']:.0f} MB CSV {previews['csv']['seconds']} s, of the "
                f"workbook {previews['xlsx']['seconds']} s"
            ),
            baseline=(
                f"CSV import of the same rows: {csv_rate:,} rows/s, "
                f"+{imports['csv']['rss_growth_mb']} MB"
            ),
            ratio=ratio,
            goal=(">= 0.5x CSV within the budget; streamed growth <= 100 MB; previews < 1 s each"),
            met=ratio >= 0.5 and within and flat and quick,
            details={"estimate": estimate, "imports": imports, "previews": previews},
        )
    ]


def _main() -> None:
    kind, *args = sys.argv[1:]
    if kind == "import":
        workdir, source, file_format, budget = args
        Path(workdir).mkdir(parents=True, exist_ok=True)
        result = measure_import(Path(workdir), Path(source), file_format, int(budget))
    elif kind == "estimate":
        result = measure_estimate(Path(args[0]))
    else:
        result = measure_preview(Path(args[0]), args[1])
    print(json.dumps(result))


if __name__ == "__main__":
    _main()
