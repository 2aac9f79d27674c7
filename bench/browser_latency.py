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

It is measured with figure 13, in the same app and browser (bench/in_chromium.py).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Any

from bench.browser import (
    clock_offset,
    visitor_of,
)
from bench.commit_clock import CommitClock
from bench.stats import Figure, summary_ms

NAME = "6. Browser latency: job update to the page in Chromium"
GOAL = "p50 <= 100 ms"
GOAL_P50_MS = 100.0

# (updates, gap in seconds). SSE updates come 75 ms apart, so each is its own render; the
# polling gaps are not multiples of the 2 s period, so changes land all over a poll cycle.
SSE_RUN = {"full": (200, 0.075), "smoke": (5, 0.075)}
POLLING_RUN = {"full": (12, 1.37), "smoke": (2, 1.37)}
POLL_SECONDS = 2.0  # JobStatusState.poll_interval

# Bounds on everything that waits.
PAGE_READY_MS = 30_000
SSE_SETTLE_MS = 10_000

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


def figure(result: dict[str, Any]) -> Figure:
    """Figure 6 from what `follow_jobs` measured."""
    sse, polling = result["sse"], result["polling"]
    return Figure(
        name=NAME,
        ours=f"p50 {sse['p50_ms']} ms, p99 {sse['p99_ms']} ms",
        baseline=f"polling 2 s (?sse=off): p50 {polling['p50_ms']} ms, p99 {polling['p99_ms']} ms",
        ratio=round(polling["p50_ms"] / sse["p50_ms"], 1),
        goal=GOAL,
        met=sse["p50_ms"] <= GOAL_P50_MS,
        details={
            **result,
            "credential": "the browser context's visitor cookie; the page follows with a job token",
        },
    )


def follow_jobs(browser: Any, services: Any, base_url: str, *, smoke: bool) -> dict[str, Any]:
    """In the app's process (bench/in_chromium.py): follow one job with SSE and one by
    polling, each in a fresh tab."""
    size = "smoke" if smoke else "full"
    # Commit times as the store notifies, in wall-clock time to compare with the page's.
    clock = CommitClock(services.store, now=time.time)
    sse = follow_one_job(browser, services, clock, base_url, sse=True, run=SSE_RUN[size])
    polling = follow_one_job(browser, services, clock, base_url, sse=False, run=POLLING_RUN[size])
    return {"sse": sse, "polling": polling}


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
