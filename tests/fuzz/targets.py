"""What must hold for any file at all: a reader yields rows (each with its values or its
problem) or raises one UnreadableFileError with a sentence; an import of it ends
COMPLETED or FAILED with that sentence, its counts adding up and the table holding exactly
the rows it says it created. Anything else (another exception, a crash message, a hang)
is a bug the fuzzing found."""

from __future__ import annotations

import contextlib
import signal
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, text

from jobs_ui.db import make_engine, migrate
from jobs_ui.engines.formats import FileFormat, RawRow, UnreadableFileError, open_reader
from jobs_ui.engines.limits import FileLimits
from jobs_ui.files import DataFiles
from jobs_ui.jobs.execution import UNEXPECTED_ERROR, execute_job
from jobs_ui.jobs.store import JobStore
from jobs_ui.models import JobKind, JobStatus

SECONDS_PER_INPUT = 20  # a small file read for longer than this is a hang
# Small limits, so the paths past them are taken too.
LIMITS = FileLimits(max_line_bytes=4096, max_columns=50, xlsx_memory_bytes=1 << 20)


class Hang(Exception):
    pass


@contextlib.contextmanager
def bounded_time(seconds: int = SECONDS_PER_INPUT) -> Iterator[None]:
    """Raise Hang in this (main) thread if the block runs longer than `seconds`."""

    def hung(_signum: int, _frame: object) -> None:
        raise Hang(f"still reading after {seconds} s")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def read_all(path: Path, fmt: FileFormat) -> list[RawRow] | str:
    """Every row of the file, or the sentence of its one file error."""
    with bounded_time():
        try:
            with open_reader(path, fmt, LIMITS) as reader:
                columns = reader.columns
                rows = list(reader)
        except UnreadableFileError as error:
            assert str(error).strip(), "a file error without a sentence"
            return str(error)
    assert all(isinstance(name, str) for name in columns)
    for row in rows:
        assert isinstance(row, RawRow) and row.number >= 1
        assert all(isinstance(key, str) for key in row.values)
        assert row.problem is None or row.problem.strip()
    return rows


@dataclass
class ImportTarget:
    """A data dir and a SQLite database that imports of fuzzed files go into."""

    engine: Engine
    store: JobStore
    files: DataFiles
    outcomes: Counter[str] = field(default_factory=Counter)  # what the inputs came to

    @classmethod
    def at(cls, root: Path) -> ImportTarget:
        engine = make_engine(f"sqlite:///{root / 'fuzz.sqlite'}")
        migrate(engine)
        files = DataFiles(root / "data")
        files.prepare()
        return cls(engine, JobStore(engine), files)

    def contacts(self) -> int:
        with self.engine.connect() as connection:
            return int(connection.execute(text("SELECT count(*) FROM contacts")).scalar_one())

    def import_bytes(self, data: bytes, fmt: FileFormat) -> None:
        job_id = uuid.uuid4()
        upload = self.files.upload_path(job_id, f"fuzzed.{fmt.value}")
        upload.parent.mkdir(parents=True, exist_ok=True)
        upload.write_bytes(data)
        params = {"upload": self.files.relative(upload), "format": fmt.value, "fileName": "f"}
        self.store.create(
            kind=JobKind.IMPORT, dataset="contacts", owner="fuzz", job_id=job_id, params=params
        )
        before = self.contacts()
        with bounded_time():
            done = execute_job(
                job_id, store=self.store, engine=self.engine, files=self.files, limits=LIMITS
            )
        assert done is not None
        assert done.status in (JobStatus.COMPLETED, JobStatus.FAILED), done.status
        if done.status is JobStatus.FAILED:
            assert done.error and done.error != UNEXPECTED_ERROR.format(job_id=job_id), done.error
            assert "Traceback" not in done.error
            assert self.contacts() == before, "a failed import changed the table"
            self.outcomes["failed with a sentence"] += 1
            return
        result = done.result or {}
        assert result["createdCount"] + result["skippedCount"] == result["totalRows"], result
        assert self.contacts() == before + result["createdCount"]
        self.outcomes["completed, rows created" if result["createdCount"] else "completed"] += 1
