"""The README's Extending example works as written (run in its own process, so the extra
dataset and table do not leak into the rest of the suite)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_example_adds_a_dataset_and_a_page():
    run = subprocess.run(
        [sys.executable, "-m", "tests.support.readme_example"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    outcome = json.loads(run.stdout.strip().splitlines()[-1])
    assert outcome["status"] == "COMPLETED"
    assert outcome["result"]["importedCount"] == 1
    assert outcome["result"]["errors"][0]["row"] == 3
    assert "isbn" in outcome["result"]["errors"][0]["message"]
    assert outcome["hooks"] == ["follow_route_job", "on_complete", "on_error"]
    assert outcome["page"]
