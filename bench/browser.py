"""What the figures measured in Chromium share: the browser, the app's environment, and a
measuring process of its own.

Reflex's AppHarnessProd changes environment variables, the working directory and Reflex's
global state, and Playwright's sync API owns an event loop, so each such figure measures in
a process of its own: `measure_in_subprocess("bench.x", ...)` starts
`python -m bench.x --measure ...`, which prints its result as JSON on its last line.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from bench.processes import ROOT
from bench.stats import Figure

# The browser tests' Chromium and flags (tests/browser/conftest.py); bench does not import
# tests, so they are repeated here.
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# Unset for the app: SQLite in the data dir and the in-process runner, as in the browser tests.
APP_ENV_UNSET = ("DATABASE_URL", "REDIS_URL", "JOBS_UI_RUNNER", "JOBS_UI_BROKER_URL")
# What the Makefile exports for Reflex, unless the caller set it: the project's own bun
# (`make install` puts it in .tools; otherwise Reflex would download an install script), and
# no calls home. So the figure runs the same under `make bench` and a bare pytest.
REFLEX_ENV_DEFAULTS = {
    "REFLEX_BUN_PATH": str(ROOT / ".tools" / "node_modules" / "bun" / "bin" / "bun.exe"),
    "REFLEX_TELEMETRY_ENABLED": "false",
    "REFLEX_CHECK_LATEST_VERSION": "false",
}


def without_chromium(name: str, goal: str) -> list[Figure] | None:
    """A "not measured" line where there is no Chromium (a failure under CI), else None."""
    if Path(CHROMIUM).exists():
        return None
    reason = "not measured: Chromium not installed (apt-get install -y chromium)"
    if os.environ.get("CI") == "true":
        raise RuntimeError(reason)
    return [Figure(name=name, ours=reason, baseline=reason, ratio=None, goal=goal, met=None)]


def measure_in_subprocess(
    module: str, *, smoke: bool, timeout: float, args: Sequence[str] = ()
) -> dict[str, Any]:
    """`python -m <module> --measure [--smoke] <args>` in a fresh process (and its own process
    group, stopped whatever happens), with a data dir of its own; its last JSON line."""
    command = [sys.executable, "-m", module, "--measure", *(["--smoke"] if smoke else []), *args]
    with tempfile.TemporaryDirectory(prefix="bench-browser-") as data_dir:
        env = {**os.environ, "JOBS_UI_DATA_DIR": data_dir}
        for name, value in REFLEX_ENV_DEFAULTS.items():
            if name != "REFLEX_BUN_PATH" or Path(value).exists():
                env.setdefault(name, value)
        for name in APP_ENV_UNSET:
            env.pop(name, None)
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _stop_group(process)
            raise RuntimeError(f"{module} took over {timeout:.0f} s") from None
        finally:
            _stop_group(process)
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    if process.returncode != 0 or not lines:
        raise RuntimeError(
            f"{module} failed (exit {process.returncode}):\n{stdout[-2000:]}\n{stderr[-4000:]}"
        )
    return json.loads(lines[-1])  # type: ignore[no-any-return]


def _stop_group(process: subprocess.Popen[str]) -> None:
    """Stop the measuring process and whatever is left in its process group: SIGTERM (on
    which Playwright's driver closes Chromium), then SIGKILL if anything is still there."""
    group = process.pid
    for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        if process.poll() is not None and not _group_members(group):
            break
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, sig)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and (process.poll() is None or _group_members(group)):
            time.sleep(0.1)
    with contextlib.suppress(subprocess.TimeoutExpired, ValueError):
        process.communicate(timeout=5)  # reap it and close the pipes


def _group_members(group: int) -> list[int]:
    """Live processes (not zombies) in a process group, from /proc."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if fields[0] != "Z" and int(fields[2]) == group:
                members.append(int(stat.parent.name))
    return members


@contextlib.contextmanager
def app_environment() -> Iterator[None]:
    """The measuring process's app settings: SQLite in a data dir (a scratch one when run by
    hand) and the in-process runner."""
    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"Chromium not found at {CHROMIUM}")
    from jobs_ui.settings import get_settings

    with contextlib.ExitStack() as cleanup:
        if not os.environ.get("JOBS_UI_DATA_DIR"):
            scratch = cleanup.enter_context(tempfile.TemporaryDirectory(prefix="bench-browser-"))
            os.environ["JOBS_UI_DATA_DIR"] = scratch
        for name in APP_ENV_UNSET:
            os.environ.pop(name, None)
        get_settings.cache_clear()
        yield


def visitor_of(context: Any, services: Any) -> str:
    """Who the browser context is to the app: its first request to the backend (the app's
    `api_url`, where the page's websocket goes) gets the signed visitor cookie from the
    request guard, as any new visitor's does, and the context keeps it for the page."""
    import reflex as rx

    from jobs_ui.access.visitor import COOKIE_NAME

    backend = rx.config.get_config().api_url.rstrip("/")
    answer = context.request.get(f"{backend}/api/import-export/jobs")
    if not answer.ok:
        raise RuntimeError(f"the backend refused a new visitor: {answer.status} {answer.text()}")
    for cookie in context.cookies(backend):
        if cookie["name"] == COOKIE_NAME:
            visitor = services.visitors.principal(cookie["value"])
            if visitor is not None:
                return str(visitor.subject)
    raise RuntimeError("the backend set no valid visitor cookie on the browser context")


def clock_offset(page: Any, rounds: int = 7) -> dict[str, float]:
    """How far the page's clock is from Python's, from the tightest of a few round trips."""
    best: tuple[float, float] | None = None
    for _ in range(rounds):
        before = time.time()
        in_page = page.evaluate("() => performance.timeOrigin + performance.now()") / 1000
        after = time.time()
        trip = after - before
        if best is None or trip < best[0]:
            best = (trip, in_page - (before + after) / 2)
    assert best is not None
    return {
        "round_trip_ms": round(best[0] * 1000, 3),
        "page_minus_python_ms": round(best[1] * 1000, 3),
    }


def print_measurement(result: dict[str, Any]) -> None:
    """The measuring process's answer to `measure_in_subprocess`: one JSON line."""
    print(json.dumps(result), flush=True)
