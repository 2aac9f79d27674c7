"""The soak keeps working: a short run of it (figures of growth need `make soak`'s length)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_a_short_soak_runs_clean_and_survives_a_kill(tmp_path):
    output = tmp_path / "soak.json"
    command = [sys.executable, "-m", "bench.soak", "--minutes", "0.5", "--streams", "100"]
    run = subprocess.run(
        [*command, "--output", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert output.exists(), run.stderr[-3000:]
    report = json.loads(output.read_text())
    assert run.returncode == 0 and report["ok"], (report["wrong"], report["server_errors"])
    done = report["done"]
    assert done["imports"] > 0 and done["exports"] > 0 and done["streams_vanished"] > 0
    assert done["rows_in_table"] == done["rows_created"] > 0
    assert done["restart"]["attempt"] == 2 and done["restart"]["status"] == "COMPLETED"
    assert report["unfinished_jobs"] == 0 and len(report["samples"]) >= 4
    assert all(sample["rss_mb"] > 0 and sample["open_files"] > 0 for sample in report["samples"])
