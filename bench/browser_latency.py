"""Figure 6: a job update, from its commit to its visible change in the page, in Chromium.

The real app runs as the browser tests run it (Reflex's AppHarnessProd: the built front end,
the backend with the jobs API and the in-process runner, SQLite in a temp data dir), and
Debian's Chromium opens `/exports/<job id>` through Playwright. A thread of the same process
commits progress to the job as a runner would, each update with its own message ("u1", "u2",
...); a MutationObserver in the page records when the message text changes. The path measured
is the whole one: commit -> the stream's fan-out -> the Reflex state's follower (an httpx SSE
client) -> the state delta over Reflex's websocket -> React's render.

Ours follows the SSE stream; the baseline is the same page opened with `?sse=off`, which
polls the jobs API every 2 s (the original fallback). As in figure 1, an update counts as
arrived when the page shows it or a later one.

The client is a visitor, as a real one is: each browser context's first request to the
backend gets the signed visitor cookie from the request guard, and the job is created for
that visitor (the principal the cookie names). The page then does what it does for any of
its visitor's jobs: its state, resolving the visitor from the tab's websocket, follows the
job with a job access token, over the stream or by polling.

Both clocks are the machine's wall clock: `time.time()` as the store notifies each commit
(bench/commit_clock.py), `performance.timeOrigin + performance.now()` in the page (their
offset is measured and kept in the details).

AppHarnessProd changes environment variables, the working directory and Reflex's global
state, and Playwright's sync API owns an event loop, so the measurement runs in a process of
its own: `run()` starts `python -m bench.browser_latency --measure`, which prints its result as
JSON on its last line.

Run: python -m bench.browser_latency [--smoke]   (prints the figure)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from bench.commit_clock import CommitClock
from bench.processes import ROOT
from bench.stats import Figure, summary_ms

NAME = "6. Browser latency: job update to the page in Chromium"
GOAL = "p50 <= 100 ms"
GOAL_P50_MS = 100.0

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

# (updates, gap in seconds). SSE updates come 75 ms apart, so each is its own render; the
# polling gaps are not multiples of the 2 s period, so changes land all over a poll cycle.
SSE_RUN = {"full": (200, 0.075), "smoke": (5, 0.075)}
POLLING_RUN = {"full": (12, 1.37), "smoke": (2, 1.37)}
POLL_SECONDS = 2.0  # JobStatusState.poll_interval

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

# Bounds on everything that waits.
PAGE_READY_MS = 30_000
SSE_SETTLE_MS = 10_000
BUILD_AND_RUN_TIMEOUT = {"full": 1_200.0, "smoke": 900.0}

MESSAGE = '[data-testid="job-message"]'
# Installed before any page script: records each new text of the job's message, with the
# wall-clock time of the DOM change and of the next animation frame (about when it is painted).
OBSERVER = """
(() => {
  const arrivals = [];
  window.__benchArrivals = arrivals;
  let last = null;
  const now = () => performance.timeOrigin + performance.now();
  const check = () => {
    const element = document.querySelector(SELECTOR);
    const text = element === null ? null : element.textContent;
    if (text === null || text === last) return;
    last = text;
    const arrival = {text, dom: now(), frame: null};
    arrivals.push(arrival);
    requestAnimationFrame(() => { arrival.frame = now(); });
  };
  new MutationObserver(check).observe(
    document, {childList: true, subtree: true, characterData: true}
  );
})();
""".replace("SELECTOR", json.dumps(MESSAGE))


# --- the parent side: run the measurement in its own process, make the figure ----------------


def run(*, smoke: bool = False) -> list[Figure]:
    """Figure 6, or a "not measured" line where there is no Chromium (a failure under CI)."""
    if not Path(CHROMIUM).exists():
        reason = "not measured: Chromium not installed (apt-get install -y chromium)"
        if os.environ.get("CI") == "true":
            raise RuntimeError(reason)
        return [Figure(name=NAME, ours=reason, baseline=reason, ratio=None, goal=GOAL, met=None)]
    result = in_subprocess(smoke=smoke)
    sse, polling = result["sse"], result["polling"]
    return [
        Figure(
            name=NAME,
            ours=f"p50 {sse['p50_ms']} ms, p99 {sse['p99_ms']} ms",
            baseline=(
                f"polling 2 s (?sse=off): p50 {polling['p50_ms']} ms, p99 {polling['p99_ms']} ms"
            ),
            ratio=round(polling["p50_ms"] / sse["p50_ms"], 1),
            goal=GOAL,
            met=sse["p50_ms"] <= GOAL_P50_MS,
            details={
                **result,
                "credential": (
                    "the browser context's visitor cookie; the page follows with a job token"
                ),
            },
        )
    ]


def in_subprocess(*, smoke: bool) -> dict[str, Any]:
    """Measure in a fresh process (and its own process group, stopped whatever happens)."""
    size = "smoke" if smoke else "full"
    args = [sys.executable, "-m", "bench.browser_latency", "--measure"]
    if smoke:
        args.append("--smoke")
    with tempfile.TemporaryDirectory(prefix="bench-browser-") as data_dir:
        env = {**os.environ, "JOBS_UI_DATA_DIR": data_dir}
        for name, value in REFLEX_ENV_DEFAULTS.items():
            if name != "REFLEX_BUN_PATH" or Path(value).exists():
                env.setdefault(name, value)
        for name in APP_ENV_UNSET:
            env.pop(name, None)
        process = subprocess.Popen(
            args,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            stdout, stderr = process.communicate(timeout=BUILD_AND_RUN_TIMEOUT[size])
        except subprocess.TimeoutExpired:
            _stop_group(process)
            raise RuntimeError(
                f"the browser latency run took over {BUILD_AND_RUN_TIMEOUT[size]:.0f} s"
            ) from None
        finally:
            _stop_group(process)
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    if process.returncode != 0 or not lines:
        raise RuntimeError(
            f"the browser latency run failed (exit {process.returncode}):\n"
            f"{stdout[-2000:]}\n{stderr[-4000:]}"
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


# --- the child side: the app, the browser, the measurement ------------------------------------


def measure(*, smoke: bool) -> dict[str, Any]:
    """Start the app and Chromium, follow one job with SSE and one by polling."""
    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"Chromium not found at {CHROMIUM}")
    from jobs_ui.settings import get_settings

    with contextlib.ExitStack() as cleanup:
        if not os.environ.get("JOBS_UI_DATA_DIR"):  # run by hand: a data dir of its own
            scratch = cleanup.enter_context(tempfile.TemporaryDirectory(prefix="bench-browser-"))
            os.environ["JOBS_UI_DATA_DIR"] = scratch
        for name in APP_ENV_UNSET:
            os.environ.pop(name, None)
        get_settings.cache_clear()
        return measure_app(smoke=smoke)


def measure_app(*, smoke: bool) -> dict[str, Any]:
    """The app (built and served by Reflex's harness) and Chromium, both stopped after."""
    from playwright.sync_api import sync_playwright
    from reflex.testing import AppHarnessProd

    size = "smoke" if smoke else "full"
    began = time.monotonic()
    with AppHarnessProd.create(root=ROOT, app_name="jobs_ui") as harness:
        started = time.monotonic()
        services = harness.app_module.services
        # Commit times as the store notifies, in wall-clock time to compare with the page's.
        clock = CommitClock(services.store, now=time.time)
        base_url = harness.frontend_url.rstrip("/")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                sse = follow_one_job(
                    browser, services, clock, base_url, sse=True, run=SSE_RUN[size]
                )
                polling = follow_one_job(
                    browser, services, clock, base_url, sse=False, run=POLLING_RUN[size]
                )
            finally:
                browser.close()
    return {
        "sse": sse,
        "polling": polling,
        "app_start_s": round(started - began, 1),
        "measure_s": round(time.monotonic() - started, 1),
    }


def follow_one_job(
    browser: Any,
    services: Any,
    clock: CommitClock,
    base_url: str,
    *,
    sse: bool,
    run: tuple[int, float],
) -> dict[str, Any]:
    """Open one running job's page in a fresh tab, commit `count` updates `gap` apart, and
    time each one's arrival in the page."""
    from playwright.sync_api import expect

    from jobs_ui.models import JobKind

    count, gap = run
    store = services.store
    context = browser.new_context(viewport={"width": 1100, "height": 820})
    try:
        job = store.create(
            kind=JobKind.EXPORT,
            dataset="contacts",
            owner=visitor_of(context, services),
            params={},
            quota=services.commands.quota,
        )
        store.start(job.id)
        context.add_init_script(OBSERVER)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{base_url}/exports/{job.id}{'' if sse else '?sse=off'}")
        transport = "Live" if sse else "Checking every few seconds"
        expect(page.get_by_test_id("transport")).to_have_text(transport, timeout=PAGE_READY_MS)
        expect(page.locator(MESSAGE)).to_have_text("Starting", timeout=PAGE_READY_MS)
        offset = clock_offset(page)

        commits = drive(store, clock, job.id, count, gap)
        settle_ms = SSE_SETTLE_MS if sse else int((2 * POLL_SECONDS + 10) * 1000)
        page.wait_for_function(
            "(last) => window.__benchArrivals.some((a) => a.text === last)",
            arg=f"u{count}",
            timeout=settle_ms,
        )
        page.wait_for_timeout(50)  # let the last arrival's animation frame come
        arrivals = page.evaluate("() => window.__benchArrivals")
    finally:
        context.close()  # the tab goes, so its follower stops
    result = latencies(commits, arrivals)
    result["clock"] = offset
    result["page_errors"] = errors
    result["gap_ms"] = round(gap * 1000)
    return result


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


def drive(
    store: Any, clock: CommitClock, job_id: uuid.UUID, count: int, gap: float
) -> list[tuple[int, float]]:
    """Commit updates 1..count from a thread, as a runner would; (number, commit time) each,
    timed as the store notifies (bench/commit_clock.py).

    Updates are scheduled on a fixed grid, so a slow commit does not push later ones back.
    """
    commits: list[tuple[int, float]] = []
    failures: list[BaseException] = []

    def commit_all() -> None:
        try:
            start = time.monotonic()
            with clock.recording() as record:
                for number in range(1, count + 1):
                    progress = min(99, number * 99 // count)
                    store.report_progress(job_id, progress=progress, message=f"u{number}")
                    if len(record) != number:
                        raise RuntimeError(f"update u{number} was not committed")
                    commits.append((number, record[-1][1]))
                    time.sleep(max(0.0, start + number * gap - time.monotonic()))
        except BaseException as error:
            failures.append(error)

    worker = threading.Thread(target=commit_all, name="bench-drive", daemon=True)
    worker.start()
    worker.join(timeout=count * gap + 60)
    if worker.is_alive() or failures or len(commits) != count:
        raise RuntimeError(f"driving the job failed: {failures or 'it did not finish'}")
    return commits


def latencies(commits: list[tuple[int, float]], arrivals: list[dict[str, Any]]) -> dict[str, Any]:
    """Each update's commit to the first page change showing it or a later update."""
    shown: list[tuple[int, float, float | None]] = []
    for arrival in arrivals:
        text = str(arrival["text"])
        if text.startswith("u") and text[1:].isdigit():
            frame = arrival.get("frame")  # None if no frame came before it was read
            frame_s = frame / 1000 if frame is not None else None
            shown.append((int(text[1:]), arrival["dom"] / 1000, frame_s))
    to_dom, to_frame = [], []
    for number, committed in commits:
        later = [(dom, frame) for shown_number, dom, frame in shown if shown_number >= number]
        if not later:
            raise RuntimeError(f"update u{number} never reached the page")
        dom, frame = min(later, key=lambda pair: pair[0])
        to_dom.append(dom - committed)
        if frame is not None:
            to_frame.append(frame - committed)
    exact = {number for number, _dom, _frame in shown}
    return {
        **summary_ms(to_dom),
        "updates_rendered_as_their_own_value": sum(1 for n, _t in commits if n in exact),
        "to_next_frame": summary_ms(to_frame) if to_frame else None,
    }


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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true", help="a handful of updates")
    parser.add_argument(
        "--measure", action="store_true", help="measure in this process; print JSON"
    )
    args = parser.parse_args()
    if args.measure:
        result = measure(smoke=args.smoke)
        print(json.dumps(result), flush=True)
        return
    for figure in run(smoke=args.smoke):
        print(json.dumps(figure.as_dict(), indent=2))


if __name__ == "__main__":
    main()
