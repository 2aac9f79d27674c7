"""`pip install .` in a fresh virtualenv gives the jobs-ui command (and the library)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_pip_install_in_a_fresh_venv_gives_the_command(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    # Built from a copy of what the package is made of: the build leaves its build/ and
    # egg-info where it runs, and never in the working tree this way.
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "jobs_ui", source / "jobs_ui", ignore=shutil.ignore_patterns("__pycache__")
    )
    installed = subprocess.run(
        [
            str(venv / "bin" / "pip"),
            "install",
            "--quiet",
            "--disable-pip-version-check",
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert installed.returncode == 0, installed.stderr[-3000:]
    helped = subprocess.run(
        [
            str(
                venv / "bin" / "jobs-ui",
            ),
            "--help",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    assert helped.returncode == 0, helped.stderr
    assert "import" in helped.stdout and "Exit codes" in helped.stdout
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import jobs_ui.client as c; print(c.__file__)"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=tmp_path,
    )
    assert str(venv) in where.stdout  # the installed package, not the working tree
