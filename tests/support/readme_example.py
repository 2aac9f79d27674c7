"""Runs the README's Extending example as a developer would, in a process of its own.

Prints one JSON line with what happened, for tests/test_extending.py to check.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
import time
import types
from pathlib import Path

from fastapi.testclient import TestClient
from sqlmodel import SQLModel

README = Path(__file__).resolve().parents[2] / "README.md"


def extending_example() -> str:
    section = README.read_text().split("## Extending", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)


def main() -> None:
    example = types.ModuleType("books_example")
    exec(compile(extending_example(), "README.md#extending", "exec"), example.__dict__)

    from jobs_ui.api.app import create_api
    from jobs_ui.services import Services
    from jobs_ui.settings import Settings

    data_dir = Path(tempfile.mkdtemp())
    services = Services.from_settings(Settings(JOBS_UI_DATA_DIR=data_dir))
    with TestClient(create_api(services), base_url="http://localhost") as client:
        # What `make migration` + the next start would do for the new table.
        SQLModel.metadata.create_all(services.engine, tables=[example.Book.__table__])
        upload = "isbn,title\n9780131103627,The C Programming Language\nshort,Bad ISBN\n"
        created = client.post(
            "/api/import-export/jobs/import",
            data={"dataset": "books"},
            files={"file": ("books.csv", upload.encode())},
        ).json()
        job = created
        deadline = time.monotonic() + 30
        while job["status"] not in ("COMPLETED", "FAILED") and time.monotonic() < deadline:
            time.sleep(0.05)
            job = client.get(f"/api/import-export/jobs/{created['jobId']}").json()
    component = example.book_import_page()
    print(
        json.dumps(
            {
                "status": job["status"],
                "result": job["result"],
                "page": type(component).__name__,
                "hooks": sorted(
                    name
                    for name in ("on_complete", "on_error", "follow_route_job")
                    if name in example.BookImportState.event_handlers
                ),
            }
        )
    )


if __name__ == "__main__":
    sys.exit(main())
