"""The command in a real terminal (tmux): the live bar while 300,000 rows import, its
summary, and Ctrl-C, which stops following (or, when asked, cancels the job)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobs_ui.settings import Settings
from tests.cli.runner import COMMAND, ROOT, Cli
from tests.cli.terminal import EXIT, Terminal

ROWS = 300_000  # about 10.5 MB
# The bar's line: "import 1a2b3c4d ━━━━━━━━━━━   42% 61,234 rows/s · ETA 0:03 Validating rows: …"
BAR = re.compile(r"^import [0-9a-f]{8} .*?\s(\d{1,3})%(.*)$", re.MULTILINE)
JOB_ID = re.compile(r"jobs-ui watch ([0-9a-f-]{36})")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The in-process runner, taking uploads the size of the big file."""
    return Settings(JOBS_UI_DATA_DIR=tmp_path / "data", JOBS_UI_MAX_UPLOAD_BYTES=64 * 2**20)


@pytest.fixture
def terminal() -> Iterator[Terminal]:
    opened = Terminal()
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def big_file(tmp_path: Path) -> Path:
    path = tmp_path / "people.csv"
    with path.open("w") as out:
        out.write("name,email\n")
        out.writelines(f"Person {n},person{n}@example.com\n" for n in range(ROWS))
    return path


def start(terminal: Terminal, cli: Cli, *args: str) -> None:
    env = {"JOBS_UI_URL": cli.url, "JOBS_UI_CONFIG_DIR": str(cli.home / "config")}
    terminal.run([*COMMAND, *args], env={**env, "PYTHONPATH": str(ROOT)}, cwd=cli.home)


def bar_percentages(screens: list[str]) -> list[int]:
    return [int(match.group(1)) for screen in screens for match in BAR.finditer(screen)]


def running(screen: str) -> bool:
    return any(0 < int(match.group(1)) < 100 for match in BAR.finditer(screen))


def test_the_live_bar_moves_then_the_summary_is_right(terminal, cli, big_file):
    start(terminal, cli, "import", big_file.name, "--dataset", "contacts")
    screens = terminal.wait_for(lambda screen: EXIT.search(screen) is not None, timeout=180)

    seen = bar_percentages(screens)
    moving = [percent for percent in seen if 0 < percent < 100]
    assert len(set(moving)) >= 2, f"the bar did not move: {seen}\n{screens[-1]}"
    assert seen == sorted(seen), "the bar went backwards"
    during = "\n".join(match.group(2) for screen in screens for match in BAR.finditer(screen))
    # Rows done, in the current step's words (the pace needs a few seconds to be known, and
    # this import is faster than that: tests/cli/test_display.py shows it drawn).
    assert re.search(r"Validating rows: \d{1,3},\d{3} read", during), during

    final = screens[-1]
    assert f"Created {ROWS:,} rows" in final and "completed" in final
    assert bar_percentages([final])[-1] == 100
    assert "exit=0" in final


def test_ctrl_c_stops_following_and_the_job_goes_on(terminal, cli, big_file):
    start(terminal, cli, "import", big_file.name, "-d", "contacts")
    terminal.wait_for(running, timeout=120)
    terminal.press("C-c")
    assert terminal.exit_code() == 130
    screen = terminal.screen()
    assert "the job goes on" in screen
    match = JOB_ID.search(screen)
    assert match, screen
    picked_up = cli.json("watch", match.group(1))  # the same user picks it up again
    assert picked_up["status"] == "COMPLETED"
    assert picked_up["result"]["createdCount"] == ROWS


def test_ctrl_c_with_cancel_on_interrupt_cancels_the_job(terminal, cli, big_file):
    start(terminal, cli, "import", big_file.name, "-d", "contacts", "--cancel-on-interrupt")
    terminal.wait_for(running, timeout=120)
    terminal.press("C-c")
    assert terminal.exit_code() == 130
    assert "Asked the server to cancel" in terminal.screen()
    (job,) = cli.json("jobs")["jobs"]
    watched = cli("watch", job["jobId"])
    assert watched.returncode == 3 and "was cancelled" in watched.stdout
    assert cli.json("export", "contacts", "-o", "after.csv")["result"]["rowCount"] == 0
