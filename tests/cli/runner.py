"""Running the jobs-ui command as a user would: a process of its own, its own config folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
COMMAND = [sys.executable, "-m", "jobs_ui.cli.main"]


def cli_env(url: str, home: Path, api_key: str | None = None) -> dict[str, str]:
    """The environment of one user of `url` whose config folder is under `home`."""
    env = {
        **os.environ,
        "JOBS_UI_URL": url,
        "JOBS_UI_CONFIG_DIR": str(home / "config"),
        "PYTHONPATH": str(ROOT),  # the checkout's package, installed or not
    }
    env.pop("JOBS_UI_API_KEY", None)
    if api_key:
        env["JOBS_UI_API_KEY"] = api_key
    return env


class Cli:
    def __init__(self, url: str, home: Path) -> None:
        self.url, self.home = url, home

    def __call__(self, *args: str, api_key: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*COMMAND, *args],
            cwd=self.home,
            env=cli_env(self.url, self.home, api_key),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def json(self, *args: str, **kwargs: Any) -> dict[str, Any]:
        done = self(*args, "--json", **kwargs)
        return dict(json.loads(done.stdout))
