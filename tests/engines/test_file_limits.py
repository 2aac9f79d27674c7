"""A file's contents are bounded while they are read: line and row length, columns and keys,
and each workbook part. Each limit in each format, a file at the limit that still imports,
and the report's 29 MB JSON line, with the memory reading it costs measured."""

from __future__ import annotations

import tempfile
import threading
import time
import tracemalloc
import uuid
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest
from openpyxl import Workbook

import jobs_ui.engines.formats as formats
import jobs_ui.engines.formats.xlsx as xlsx_reader
from jobs_ui.db import make_engine, migrate
from jobs_ui.engines.formats import FileFormat, RawRow, UnreadableFileError, open_reader
from jobs_ui.engines.limits import (
    MAX_LOADED_BYTES,
    MAX_PART_BYTES,
    MAX_SHARED_STRINGS_BYTES,
    FileLimits,
    size_label,
)
from jobs_ui.files import DataFiles
from jobs_ui.jobs.execution import execute_job
from jobs_ui.jobs.store import JobStore
from jobs_ui.models import Job, JobKind, JobStatus
from jobs_ui.settings import Settings, get_settings
from tests.support.files import contacts_csv

SMALL = FileLimits(max_line_bytes=1000, max_columns=5)
MB = 1024 * 1024

pytestmark = pytest.mark.filterwarnings("ignore:Workbook contains no:UserWarning")


def read_all(
    path: Path, fmt: FileFormat, limits: FileLimits | None = SMALL
) -> tuple[list[str], list[RawRow]]:
    with open_reader(path, fmt, limits) as reader:
        rows = list(reader)
        return reader.columns, rows


def refusal(path: Path, fmt: FileFormat, limits: FileLimits | None = SMALL) -> str:
    with pytest.raises(UnreadableFileError) as caught:
        read_all(path, fmt, limits)
    return str(caught.value)


def test_the_defaults_are_the_settings_defaults() -> None:
    settings = Settings()

    assert FileLimits() == FileLimits(
        max_line_bytes=settings.max_line_bytes, max_columns=settings.max_columns
    )
    assert (FileLimits().max_line_bytes, FileLimits().max_columns) == (MB, 1000)


@pytest.mark.parametrize(
    ("size", "label"), [(MB, "1 MB"), (64 * MB, "64 MB"), (2048, "2 KB"), (1000, "1,000 bytes")]
)
def test_limits_are_named_as_people_write_them(size: int, label: str) -> None:
    assert size_label(size) == label


# ---------------------------------------------------------------------------
# Delimited text: one line, and one row over several lines


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
@pytest.mark.parametrize(("name", "delimiter"), [("upload.csv", ","), ("upload.tsv", "\t")])
def test_a_row_at_the_limit_imports_and_one_byte_more_fails(
    tmp_path: Path, newline: str, name: str, delimiter: str
) -> None:
    at_limit = "a" * (1000 - 7) + delimiter + "b@x.io"  # 1,000 bytes, line break not counted
    assert len(at_limit) == 1000
    lines = ["name" + delimiter + "email", "Ann" + delimiter + "ann@x.io", at_limit]
    path = tmp_path / name
    path.write_bytes(newline.join([*lines, ""]).encode())

    _, rows = read_all(path, FileFormat.CSV)

    assert [row.number for row in rows] == [2, 3]
    assert rows[1].values["email"] == "b@x.io"

    path.write_bytes(newline.join([*lines[:2], "a" + at_limit, lines[1], ""]).encode())
    message = refusal(path, FileFormat.CSV)

    assert message.startswith("Row 3 is longer than the 1,000 bytes limit for one row.")


def test_a_long_last_line_without_a_line_break_fails(tmp_path: Path) -> None:
    path = tmp_path / "upload.csv"
    path.write_bytes(b"name,email\nAnn,ann@x.io\n" + b"x" * 5000)

    assert refusal(path, FileFormat.CSV).startswith("Row 3 is longer than")


def test_a_long_header_line_fails(tmp_path: Path) -> None:
    path = tmp_path / "upload.csv"
    path.write_bytes(b"name," + b"e" * 2000 + b"\nAnn,ann@x.io\n")

    assert refusal(path, FileFormat.CSV).startswith("Row 1 is longer than")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_rows_are_bounded_too(tmp_path: Path, encoding: str) -> None:
    # Without a BOM too: the encoding is then detected. The limit counts UTF-8 bytes.
    path = tmp_path / "upload.csv"
    good = ["name,email", "Zoë,zoe@x.io", "a" * 993 + ",b@x.io"]  # 1,000 bytes in UTF-8
    path.write_bytes("\r\n".join([*good, ""]).encode(encoding))

    _, rows = read_all(path, FileFormat.CSV)

    assert [row.values["email"] for row in rows] == ["zoe@x.io", "b@x.io"]
    assert rows[0].values["name"] == "Zoë"

    path.write_bytes("\r\n".join([*good[:2], "x" * 999 + ",b", "Ann,a@x.io", ""]).encode(encoding))

    assert refusal(path, FileFormat.CSV).startswith("Row 3 is longer than the 1,000 bytes")


def test_a_windows_1252_file_is_bounded_too(tmp_path: Path) -> None:
    path = tmp_path / "upload.csv"
    lines = ["name,email", "Zoë Müller,zoe@x.io", "x" * 2000 + ",y", ""]
    path.write_bytes("\n".join(lines).encode("cp1252"))

    assert refusal(path, FileFormat.CSV).startswith("Row 3 is longer than")


def test_a_quoted_value_over_many_lines_counts_as_one_row(tmp_path: Path) -> None:
    # Every physical line is short; the row they make is ten times the limit.
    path = tmp_path / "upload.csv"
    spread = '"' + "a few words\n" * 1000 + '"'
    path.write_text(f"name,email\nAnn,ann@x.io\nBob,{spread}\nCy,cy@x.io\n", encoding="utf-8")

    message = refusal(path, FileFormat.CSV, FileLimits(max_line_bytes=1000))

    assert message.startswith("Row 3 is longer than the 1,000 bytes limit for one row.")


def test_a_quoted_value_over_several_lines_within_the_limit_imports(tmp_path: Path) -> None:
    path = tmp_path / "upload.csv"
    note = "a few words\n" * 70  # 840 bytes over 70 lines
    path.write_text(f'name,email\nAnn,"{note}"\nBob,bob@x.io\n', encoding="utf-8", newline="")

    _, rows = read_all(path, FileFormat.CSV, FileLimits(max_line_bytes=1000))

    assert [row.values for row in rows] == [
        {"name": "Ann", "email": note},
        {"name": "Bob", "email": "bob@x.io"},
    ]


def test_many_rows_far_past_the_limit_in_total_import(tmp_path: Path) -> None:
    # The limit is per row: a file of many short rows (and short chunks) is unaffected.
    path = contacts_csv(tmp_path / "upload.csv", 5000)

    _, rows = read_all(path, FileFormat.CSV, FileLimits(max_line_bytes=64))

    assert len(rows) == 5000 and rows[-1].number == 5001


# ---------------------------------------------------------------------------
# Columns


def test_a_header_at_the_column_limit_imports_and_a_wider_one_fails(tmp_path: Path) -> None:
    path = tmp_path / "upload.csv"
    path.write_text("a,b,c,d,e\n1,2,3,4,5\n", encoding="utf-8")

    columns, rows = read_all(path, FileFormat.CSV)

    assert columns == ["a", "b", "c", "d", "e"] and len(rows) == 1

    path.write_text("a,b,c,d,e,f\n1,2,3,4,5,6\n", encoding="utf-8")

    assert refusal(path, FileFormat.CSV) == (
        "The header row has 6 columns, more than the 5 this app reads. "
        "Remove the columns you do not need and upload again."
    )


def test_the_default_column_limit_is_a_thousand(tmp_path: Path) -> None:
    path = tmp_path / "upload.csv"
    path.write_text(",".join(f"c{i}" for i in range(1001)) + "\n1\n", encoding="utf-8")

    assert "1,001 columns, more than the 1,000" in refusal(path, FileFormat.CSV, None)


def test_a_row_wider_than_the_limit_is_skipped_with_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "upload.csv"
    path.write_text("name,email\nAnn,a@x.io\n" + ",".join("x" * 8) + "\nBob,b@x.io\n")

    _, rows = read_all(path, FileFormat.CSV)

    assert [row.problem for row in rows] == [
        None,
        "Row has 8 fields, more than the 5 this app reads.",
        None,
    ]


def test_a_json_object_with_too_many_keys_is_skipped_with_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "upload.jsonl"
    wide = "{" + ",".join(f'"k{i}": {i}' for i in range(6)) + "}"
    path.write_text(f'{wide}\n{{"name": "Ann", "email": "a@x.io"}}\n', encoding="utf-8")

    columns, rows = read_all(path, FileFormat.JSONL)

    assert rows == [
        RawRow(1, {}, "Line has 6 keys, more than the 5 this app reads."),
        RawRow(2, {"name": "Ann", "email": "a@x.io"}),
    ]
    assert columns == ["name", "email"]  # the skipped line's keys are no columns


def test_a_json_object_at_the_key_limit_is_read(tmp_path: Path) -> None:
    path = tmp_path / "upload.jsonl"
    path.write_text('{"a": 1, "b": 2, "c": 3, "d": 4, "e": 5}\n', encoding="utf-8")

    assert read_all(path, FileFormat.JSONL)[1] == [
        RawRow(1, {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5})
    ]


def test_lines_that_together_name_too_many_keys_fail_the_file(tmp_path: Path) -> None:
    # Each line names new keys: every one becomes a column the reader keeps.
    path = tmp_path / "upload.jsonl"
    path.write_text('{"a": 1, "b": 2}\n{"c": 3, "d": 4}\n{"e": 5, "f": 6}\n', encoding="utf-8")

    message = refusal(path, FileFormat.JSONL)

    assert message.startswith("Line 3 brings the keys used in this file past the 5 different")


def test_ever_new_key_orders_do_not_grow_the_name_cache(tmp_path: Path) -> None:
    keys = [f"k{i}" for i in range(8)]
    lines = []
    for number in range(2000):  # distinct orders of the same eight keys
        order = keys[number % 8 :] + keys[: number % 8]
        order[1:3] = reversed(order[1:3]) if number % 16 >= 8 else order[1:3]
        lines.append("{" + ",".join(f'"{key}": {number}' for key in order[: 3 + number % 5]) + "}")
    path = tmp_path / "upload.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    with open_reader(path, FileFormat.JSONL, FileLimits(max_columns=10)) as reader:
        reader.rename(lambda names: {name: name.upper() for name in names})
        rows = list(reader)
        cached = len(reader._names_by_keys)  # type: ignore[attr-defined]

    assert len(rows) == 2000 and all(row.problem is None for row in rows)
    assert rows[0].values == {"K0": 0, "K1": 0, "K2": 0}
    assert cached <= 256


def test_xlsx_header_wider_than_the_limit_fails(tmp_path: Path) -> None:
    book = Workbook()
    book.active.append([f"c{i}" for i in range(6)])
    book.active.append(list(range(6)))
    path = tmp_path / "wide.xlsx"
    book.save(path)

    assert refusal(path, FileFormat.XLSX).startswith(
        "The header row has 6 columns, more than the 5"
    )

    book.active.delete_cols(6)
    book.save(path)
    assert read_all(path, FileFormat.XLSX)[0] == ["c0", "c1", "c2", "c3", "c4"]


def test_xlsx_values_beyond_the_header_are_a_row_problem(tmp_path: Path) -> None:
    book = Workbook()
    book.active.append(["name", "email"])
    book.active.append(["Ann", "a@x.io", *range(2000)])
    path = tmp_path / "long-row.xlsx"
    book.save(path)

    _, rows = read_all(path, FileFormat.XLSX, None)

    assert rows[0].problem == "Row has a value in column C, beyond the header's 2 columns."


# ---------------------------------------------------------------------------
# JSON Lines: one line


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_a_json_line_at_the_limit_is_read_and_one_byte_more_fails(
    tmp_path: Path, newline: str
) -> None:
    def line(size: int) -> str:
        start = '{"name": "Ann", "note": "'
        return start + "n" * (size - len(start) - 2) + '"}'

    path = tmp_path / "upload.jsonl"
    path.write_bytes(newline.join([line(1000), line(1000), ""]).encode())

    assert [row.number for row in read_all(path, FileFormat.JSONL)[1]] == [1, 2]

    path.write_bytes(newline.join([line(1000), line(1001), line(10), ""]).encode())

    assert refusal(path, FileFormat.JSONL) == (
        "Line 2 is longer than the 1,000 bytes limit for one line. "
        "Each line should hold one JSON object: one record."
    )


def test_a_long_last_json_line_without_a_line_break_fails(tmp_path: Path) -> None:
    path = tmp_path / "upload.jsonl"
    path.write_bytes(b'{"name": "Ann"}\n{"name": "' + b"n" * 3000 + b'"}')

    assert refusal(path, FileFormat.JSONL).startswith("Line 2 is longer than")


# ---------------------------------------------------------------------------
# The report's file, read through the import engine, and the memory it costs


class PeakRss:
    """This process's resident memory, sampled every 2 ms while the block runs, and the peak
    of Python's own allocations (tracemalloc): RSS may not grow at all when freed memory is
    reused, the allocations show what the read itself asked for."""

    def __init__(self) -> None:
        self._process = psutil.Process()
        self.baseline = self.peak = self._process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.002):
            self.peak = max(self.peak, self._process.memory_info().rss)

    def __enter__(self) -> PeakRss:
        tracemalloc.start()
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._process.memory_info().rss)
        self.allocated_mb = tracemalloc.get_traced_memory()[1] / MB
        tracemalloc.stop()

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.baseline) / MB

    def __str__(self) -> str:
        return (
            f"peak RSS +{self.growth_mb:.1f} MB, peak Python allocations {self.allocated_mb:.1f} MB"
        )


def test_the_meter_sees_memory_being_used() -> None:
    # So that a small figure below means little memory, not a meter that sees nothing.
    with PeakRss() as memory:
        block = bytearray(96 * MB)
        block[::4096] = b"x" * len(block[::4096])  # touch every page
        # Held a moment: the sampler thread waits for the GIL while the page touching
        # runs, and would otherwise only ever sample after the block is freed again.
        time.sleep(0.05)
        del block

    assert memory.growth_mb > 90
    assert memory.allocated_mb > 90


@pytest.fixture
def importer(tmp_path: Path) -> Iterator[Callable[..., Job]]:
    """Runs an import job of a file written by the test, as a runner would."""
    engine = make_engine(f"sqlite:///{tmp_path / 'data.sqlite'}")
    migrate(engine)
    files = DataFiles(tmp_path / "data")
    files.prepare()
    store = JobStore(engine)

    def run(
        name: str, write: Callable[[Path], None], limits: FileLimits | None = None
    ) -> tuple[Job, PeakRss]:
        upload = files.upload_path(uuid.uuid4(), name)
        upload.parent.mkdir(parents=True)
        write(upload)
        params = {
            "upload": files.relative(upload),
            "format": str(formats.format_from_filename(name)),
        }
        job = store.create(kind=JobKind.IMPORT, dataset="contacts", owner="t", params=params)
        with PeakRss() as memory:
            done = execute_job(job.id, store=store, engine=engine, files=files, limits=limits)
        assert done is not None
        return done, memory

    yield run
    engine.dispose()


def write_two_million_keys(path: Path) -> None:
    """The report's line: one JSON object of 2,000,000 keys, written without building it."""
    with path.open("w", encoding="utf-8") as handle:
        handle.write('{"name": "Ann", "email": "ann@example.com"')
        for start in range(0, 2_000_000, 100_000):
            handle.write("".join(f',"key{i:07d}":{i % 10}' for i in range(start, start + 100_000)))
        handle.write("}\n")


def test_the_reported_two_million_key_line_fails_clearly_in_bounded_memory(importer) -> None:
    job, memory = importer("report.jsonl", write_two_million_keys)

    print(f"\n2,000,000-key JSON line (~29 MB) through the import engine: {memory}")
    assert job.status is JobStatus.FAILED
    assert job.error == (
        "Line 1 is longer than the 1 MB limit for one line. "
        "Each line should hold one JSON object: one record."
    )
    # Parsing the line whole costs hundreds of MB; reading a piece of it costs about 1 MB.
    assert memory.growth_mb < 64
    assert memory.allocated_mb < 16


def test_the_same_line_as_csv_fails_clearly_in_bounded_memory(importer) -> None:
    def write(path: Path) -> None:
        with path.open("w", encoding="utf-8") as handle:
            handle.write("name,email\n")
            for start in range(0, 2_000_000, 100_000):
                handle.write("".join(f"key{i:07d}," for i in range(start, start + 100_000)))
            handle.write("\n")

    job, memory = importer("report.csv", write)

    print(f"\n2,000,000-field CSV line through the import engine: {memory}")
    assert job.status is JobStatus.FAILED
    assert job.error is not None and job.error.startswith(
        "Row 2 is longer than the 1 MB limit for one row."
    )
    assert memory.growth_mb < 64
    assert memory.allocated_mb < 16


def test_the_report_file_is_the_size_reported(tmp_path: Path) -> None:
    path = tmp_path / "report.jsonl"
    write_two_million_keys(path)

    assert 25 * MB < path.stat().st_size < 35 * MB
    assert path.read_bytes().count(b"\n") == 1


def test_a_file_within_the_limits_imports(importer) -> None:
    def write(path: Path) -> None:
        long_name = "N" * 150  # the longest name the dataset takes
        rows = [f"{long_name},person{n}@example.com,{'C' * 150},{n}" for n in range(300)]
        path.write_text("name,email,company,phone\n" + "\n".join(rows) + "\n", encoding="utf-8")

    job, _ = importer("fine.csv", write, FileLimits(max_line_bytes=400, max_columns=4))

    assert job.status is JobStatus.COMPLETED, job.error
    assert job.result is not None and job.result["importedCount"] == 300


def test_the_runner_passes_the_settings_limits(importer, monkeypatch) -> None:
    monkeypatch.setenv("JOBS_UI_MAX_LINE_BYTES", "100")
    monkeypatch.setenv("JOBS_UI_MAX_COLUMNS", "3")
    get_settings.cache_clear()
    try:
        job, _ = importer(
            "wide.csv", lambda path: path.write_text("name,email,a,b\nA,a@x.io,1,2\n")
        )
        long, _ = importer(
            "long.jsonl", lambda path: path.write_text('{"name": "' + "n" * 200 + '"}\n')
        )
    finally:
        get_settings.cache_clear()

    assert job.error is not None and "4 columns, more than the 3" in job.error
    assert long.error is not None and "100 bytes limit" in long.error


# ---------------------------------------------------------------------------
# XLSX: each part capped, checked before openpyxl opens the workbook


MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
KIND = "application/vnd.openxmlformats-officedocument.spreadsheetml."
PartWriter = Callable[[zipfile.ZipFile, str], None]


def text_part(text: str) -> PartWriter:
    return lambda archive, name: archive.writestr(name, text)


def xml_part(start: bytes, repeated: bytes, count: int, end: bytes) -> PartWriter:
    """A writer that streams `start`, `repeated` x `count`, `end` into the part: it compresses
    to almost nothing, however large it unpacks."""

    def write(archive: zipfile.ZipFile, name: str) -> None:
        with archive.open(name, "w", force_zip64=True) as part:
            part.write(start)
            block = repeated * 10_000
            for _ in range(count // 10_000):
                part.write(block)
            part.write(repeated * (count % 10_000))
            part.write(end)

    return write


SHEET = "xl/worksheets/sheet1.xml"
SST = f'<sst xmlns="{MAIN}">'.encode()
ANN = b"<si><t>name</t></si><si><t>email</t></si><si><t>Ann</t></si><si><t>ann@example.com</t></si>"
CELLS = (
    '<sheetData><row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row>'
    '<row r="2"><c r="A2" t="s"><v>2</v></c><c r="B2" t="s"><v>3</v></c></row></sheetData>'
)

# A workbook as Excel lays it out (no styles: openpyxl warns and uses its own), written by
# hand so that each part can be replaced.
HANDMADE: dict[str, PartWriter] = {
    "[Content_Types].xml": text_part(
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/xl/workbook.xml" ContentType="{KIND}sheet.main+xml"/>'
        f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{KIND}worksheet+xml"/>'
        f'<Override PartName="/xl/sharedStrings.xml" ContentType="{KIND}sharedStrings+xml"/>'
        "</Types>"
    ),
    "_rels/.rels": text_part(
        f'<Relationships xmlns="{RELS}"><Relationship Id="rId1" Type="{REL}/officeDocument" '
        'Target="xl/workbook.xml"/></Relationships>'
    ),
    "xl/workbook.xml": text_part(
        f'<workbook xmlns="{MAIN}" xmlns:r="{REL}">'
        '<sheets><sheet name="data" sheetId="1" r:id="rId1"/></sheets></workbook>'
    ),
    "xl/_rels/workbook.xml.rels": text_part(
        f'<Relationships xmlns="{RELS}">'
        f'<Relationship Id="rId1" Type="{REL}/worksheet" Target="worksheets/sheet1.xml"/>'
        f'<Relationship Id="rId2" Type="{REL}/sharedStrings" Target="sharedStrings.xml"/>'
        "</Relationships>"
    ),
    "xl/worksheets/sheet1.xml": text_part(f'<worksheet xmlns="{MAIN}">{CELLS}</worksheet>'),
    "xl/sharedStrings.xml": text_part((SST + ANN).decode() + "</sst>"),
}


def workbook_with(tmp_path: Path, parts: dict[str, PartWriter]) -> Path:
    """The handmade workbook (header + one row) with some parts replaced or added."""
    path = tmp_path / "crafted.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, write in {**HANDMADE, **parts}.items():
            write(archive, name)
    return path


def test_the_handmade_workbook_reads() -> None:
    path = workbook_with(Path(tempfile.mkdtemp()), {})

    assert read_all(path, FileFormat.XLSX, None) == (
        ["name", "email"],
        [RawRow(2, {"name": "Ann", "email": "ann@example.com"})],
    )


@pytest.fixture
def no_workbook_loading(monkeypatch):
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("openpyxl was asked to load a workbook that should be refused first")

    monkeypatch.setattr(xlsx_reader, "load_workbook", refuse)


def test_shared_strings_past_their_cap_fail_before_the_workbook_is_loaded(
    tmp_path: Path, no_workbook_loading
) -> None:
    count = MAX_SHARED_STRINGS_BYTES // 16 + 1  # 17 bytes each: just past 64 MB
    strings = xml_part(SST + ANN, b"<si><t>x</t></si>", count, b"</sst>")
    path = workbook_with(tmp_path, {"xl/sharedStrings.xml": strings})

    message = refusal(path, FileFormat.XLSX, None)

    assert path.stat().st_size < MB  # small compressed, large unpacked
    assert message == (
        "Part xl/sharedStrings.xml of this workbook (its shared text) unpacks to 69 MB, more "
        "than the 64 MB this app reads for it. Save the sheet as CSV and upload that instead."
    )


class Loaded(Exception):
    """Raised instead of loading the workbook: the size checks let it through."""


def test_shared_strings_just_under_their_cap_pass_the_checks(tmp_path: Path, monkeypatch) -> None:
    def loaded(*_args: object, **_kwargs: object) -> None:
        raise Loaded

    monkeypatch.setattr(xlsx_reader, "load_workbook", loaded)
    filler = b"<si><t>" + b"x" * 1008 + b"</t></si>"  # 1,024 bytes
    # Everything loaded whole counts together, so the other (small) parts leave room too.
    size = MAX_SHARED_STRINGS_BYTES - 8 * 1024 - len(SST) - len(ANN) - len(b"</sst>")
    strings = xml_part(SST + ANN, filler, size // 1024, b" " * (size % 1024) + b"</sst>")
    path = workbook_with(tmp_path, {"xl/sharedStrings.xml": strings})
    with zipfile.ZipFile(path) as archive:
        loaded_whole = sum(
            entry.file_size for entry in archive.infolist() if entry.filename != SHEET
        )
        assert archive.getinfo("xl/sharedStrings.xml").file_size == MAX_SHARED_STRINGS_BYTES - 8192
    assert MAX_LOADED_BYTES - 8192 < loaded_whole <= MAX_LOADED_BYTES

    with pytest.raises(Loaded):
        read_all(path, FileFormat.XLSX, None)


def test_parts_read_whole_are_also_capped_together(tmp_path: Path, no_workbook_loading) -> None:
    # Each within its own cap, too much together: they would all be in memory at once.
    filler = b"<si><t>" + b"x" * 1008 + b"</t></si>"
    padding = b"<!-- padding -->"
    parts = {
        "xl/sharedStrings.xml": xml_part(SST + ANN, filler, 50 * 1024, b"</sst>"),
        "xl/styles.xml": xml_part(
            f'<styleSheet xmlns="{MAIN}">'.encode(), padding, 15 * MB // 16, b"</styleSheet>"
        ),
    }
    path = workbook_with(tmp_path, parts)

    assert refusal(path, FileFormat.XLSX, None) == (
        "The parts of this workbook that are read whole (shared text, styles and the like) "
        "unpack to 66 MB together, more than the 64 MB this app reads. Save the sheet as CSV "
        "and upload that instead."
    )


def test_shared_strings_past_the_other_parts_cap_are_read(tmp_path: Path) -> None:
    # The shared strings' own cap applies to them, not the smaller one of other parts.
    filler = b"<si><t>" + b"x" * 10_000 + b"</t></si>"
    strings = xml_part(SST + ANN, filler, MAX_PART_BYTES // 10_000 + 100, b"</sst>")
    path = workbook_with(tmp_path, {"xl/sharedStrings.xml": strings})

    columns, rows = read_all(path, FileFormat.XLSX, None)

    assert (columns, [row.values for row in rows]) == (
        ["name", "email"],
        [{"name": "Ann", "email": "ann@example.com"}],
    )


def test_styles_past_their_cap_fail_before_the_workbook_is_loaded(
    tmp_path: Path, no_workbook_loading
) -> None:
    styles = xml_part(
        f'<styleSheet xmlns="{MAIN}">'.encode(),
        b"<!-- padding -->",
        MAX_PART_BYTES // 16 + 1,
        b"</styleSheet>",
    )
    # Named by no relationship: openpyxl reads styles by this fixed name all the same.
    path = workbook_with(tmp_path, {"xl/styles.xml": styles})

    message = refusal(path, FileFormat.XLSX, None)

    assert message.startswith("Part xl/styles.xml of this workbook (read whole) unpacks to 17 MB")
    assert f"more than the {size_label(MAX_PART_BYTES)} this app reads" in message


def worksheet(padding: int) -> PartWriter:
    """The handmade sheet, padded with whitespace inside its root element."""
    return xml_part(
        f'<worksheet xmlns="{MAIN}">{CELLS}'.encode(), b" " * 1024, padding // 1024, b"</worksheet>"
    )


def test_a_worksheet_larger_than_the_other_parts_cap_imports(tmp_path: Path) -> None:
    # Streamed a row at a time, a worksheet may use the whole budget.
    path = workbook_with(tmp_path, {"xl/worksheets/sheet1.xml": worksheet(MAX_PART_BYTES + MB)})

    _, rows = read_all(path, FileFormat.XLSX, None)

    assert [row.values for row in rows] == [{"name": "Ann", "email": "ann@example.com"}]


def test_a_worksheet_also_named_as_shared_strings_gets_their_cap(
    tmp_path: Path, no_workbook_loading
) -> None:
    # A crafted index says the big sheet holds the shared strings, which are loaded whole.
    def types(archive: zipfile.ZipFile, name: str) -> None:
        ns = "http://schemas.openxmlformats.org/package/2006/content-types"
        kind = "application/vnd.openxmlformats-officedocument.spreadsheetml."
        archive.writestr(
            name,
            f'<Types xmlns="{ns}"><Default Extension="rels" '
            'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{kind}sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" '
            f'ContentType="{kind}sharedStrings+xml"/></Types>',
        )

    parts = {
        "[Content_Types].xml": types,
        "xl/worksheets/sheet1.xml": worksheet(MAX_SHARED_STRINGS_BYTES + MB),
    }
    path = workbook_with(tmp_path, parts)

    message = refusal(path, FileFormat.XLSX, None)

    assert message.startswith("Part xl/worksheets/sheet1.xml of this workbook (its shared text)")


def test_the_whole_workbook_is_still_capped_in_total(tmp_path: Path, no_workbook_loading) -> None:
    path = workbook_with(
        tmp_path,
        {
            "xl/worksheets/sheet1.xml": worksheet(300 * MB),
            "xl/media/padding.bin": xml_part(b"", b"\0" * 1024, 230 * 1024, b""),
        },
    )

    assert refusal(path, FileFormat.XLSX, None).startswith("This workbook unpacks to 530 MB")
