"""The README's Extending example works as written (run in its own process, so the extra
dataset, table and pages do not leak into the rest of the suite)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_example() -> dict:
    run = subprocess.run(
        [sys.executable, "-m", "tests.support.readme_example"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_readme_example_adds_a_dataset_and_its_pages():
    outcome = run_example()
    # Registered and its table made on start: no migration by hand.
    assert outcome["registered"] and outcome["table_created"]
    assert outcome["status"] == "COMPLETED"
    assert outcome["result"]["importedCount"] == 1
    assert outcome["result"]["errors"][0]["row"] == 3
    assert "isbn" in outcome["result"]["errors"][0]["message"]
    # Offered on the shipped pages, and a page of its own with its job page.
    assert outcome["import_choices_books"] and outcome["export_choices_books"]
    assert outcome["routes"] == ["/books", "/books/[job_id]", "/books/[job_id]/fix"]
    assert all(outcome["page_types"])
    assert outcome["hooks"] == ["follow_route_job", "on_complete", "on_error"]
    assert "1 added" in outcome["toast"]


def test_readme_example_is_at_most_fifteen_lines():
    """The promise the README makes: a dataset with its page in 15 lines of your code."""
    section = (ROOT / "README.md").read_text().split("## Extending", 1)[1]
    block = section.split("```python\n", 1)[1].split("```", 1)[0]
    lines = [line for line in block.splitlines() if line.strip()]
    assert len(lines) <= 15, len(lines)
