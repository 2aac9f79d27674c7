"""Runs the README's Extending example as a developer would, in a process of its own.

The block is saved as a module `books` and named in JOBS_UI_EXTENSIONS, as the README says;
the services load it, create its table on start and take an upload for it. Prints one JSON
line with what happened, for tests/test_extending.py to check.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import inspect

README = Path(__file__).resolve().parents[2] / "README.md"


def extending_example() -> str:
    section = README.read_text().split("## Extending", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match, "the Extending section has no python block"
    return match.group(1)


def main() -> None:
    code_dir = Path(tempfile.mkdtemp())
    (code_dir / "books.py").write_text(extending_example())
    sys.path.insert(0, str(code_dir))

    from jobs_ui.api.app import create_api
    from jobs_ui.datasets import registry
    from jobs_ui.pages.exports import exports_page
    from jobs_ui.pages.extra import extra_pages
    from jobs_ui.pages.imports import imports_page
    from jobs_ui.services import Services
    from jobs_ui.settings import Settings

    settings = Settings(JOBS_UI_DATA_DIR=code_dir / "data", JOBS_UI_EXTENSIONS="books")
    services = Services.from_settings(settings)
    with TestClient(create_api(services), base_url="http://localhost") as client:
        tables = inspect(services.engine).get_table_names()
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

    pages = {page.route: page for page in extra_pages()}
    job_state = pages["/books/[job_id]"].state
    toast = job_state.on_complete.fn(job_state, {"importedCount": 1})
    print(
        json.dumps(
            {
                "status": job["status"],
                "result": job["result"],
                "registered": "books" in registry.names(),
                "table_created": "book" in tables,
                "routes": sorted(pages),
                "page_types": [type(page.component()).__name__ for page in pages.values()],
                "import_choices_books": "books" in str(imports_page()),
                "export_choices_books": "books" in str(exports_page()),
                "toast": str(toast),
                "hooks": sorted(
                    name
                    for name in ("on_complete", "on_error", "follow_route_job")
                    if name in job_state.event_handlers
                ),
            }
        )
    )


if __name__ == "__main__":
    sys.exit(main())
