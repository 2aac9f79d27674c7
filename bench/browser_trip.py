"""Figure 13: the whole trip a user makes with a big import, in Chromium, against the engine.

A 1,000,000-row contacts CSV (about 52 MB) is chosen on `/imports` in Chromium, sent with
"Next: map columns", imported with the suggested mapping, and followed on its job page until
the page says "Completed". The baseline is the import engine alone on the same file, as
figure 4 runs it (bench/throughput.py, a process of its own): what the trip would take if
nothing but the save cost anything.

The app runs as the browser tests run it (Reflex's AppHarnessProd: the built front end, the
backend with the jobs API and the in-process runner, SQLite in a temp data dir), in a process
of its own, with figure 6 (bench/in_chromium.py). The page reports its own moments to Python
as they happen (an exposed function, so a navigation loses none): the clicks, the upload's
"100%", the mapping step appearing, the job page opening and the badge's "Completed". The
job's own timestamps (created, started, finished) split the rest. All are the machine's wall clock;
the page's offset from Python's is measured and kept in the details. The upload's own
request timing (Playwright's) tells when the backend had the whole file: Reflex answers its
upload route once the body is in and parsed, then runs the page's handler, which keeps and
inspects the file.

The trip counts from the click on "Next: map columns" to "Completed", less the moment the
mapping step waited for its click (a person reads it; the script clicks at once).
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import throughput
from bench.browser import (
    clock_offset,
)
from bench.stats import Figure

NAME = "13. The whole trip: a {rows:,}-row CSV from /imports in Chromium to Completed"
GOAL = "<= 1.5x the engine alone"
GOAL_RATIO = 1.5
ROWS = {"full": 1_000_000, "smoke": 5_000}
STEP_TIMEOUT_MS = {"full": 600_000, "smoke": 60_000}

# Installed before any page script, in every document: each moment once, in wall-clock ms.
MARKS = """
(() => {
  const now = () => performance.timeOrigin + performance.now();
  const seen = new Set();
  const mark = (name) => {
    if (seen.has(name)) return;
    seen.add(name);
    window.__benchMark(name, now());
  };
  const clicked = {"inspect-button": "inspect_click", "import-button": "import_click"};
  document.addEventListener("click", (event) => {
    const target = event.target instanceof Element ? event.target : null;
    for (const [testId, name] of Object.entries(clicked)) {
      if (target && target.closest(`[data-testid="${testId}"]`)) mark(name);
    }
  }, true);
  const text = (testId) => {
    const element = document.querySelector(`[data-testid="${testId}"]`);
    return element === null ? null : element.textContent;
  };
  const check = () => {
    if (text("upload-progress") === "Uploading… 100%") mark("upload_progress_100");
    if (document.querySelector('[data-testid="import-button"]')) mark("mapping_shown");
    if (/^\\/imports\\/[0-9a-f-]{36}/.test(location.pathname)) mark("job_page");
    const badge = text("status-badge");
    if (badge === "Running") mark("running_shown");
    if (badge === "Completed") mark("completed_shown");
  };
  new MutationObserver(check).observe(
    document, {childList: true, subtree: true, characterData: true}
  );
})();
"""


def name(*, smoke: bool) -> str:
    return NAME.format(rows=ROWS["smoke" if smoke else "full"])


def prepare(root: Path, *, smoke: bool) -> tuple[Path, dict[str, Any]]:
    """The file to send, and the engine alone on it (figure 4's measurement, a process of
    its own), before the app starts."""
    source = root / "contacts.csv"
    throughput.write_contacts_csv(source, ROWS["smoke" if smoke else "full"])
    return source, throughput.in_subprocess("import", root / "engine", source)


def figure(trip: dict[str, Any], engine: dict[str, Any]) -> Figure:
    """Figure 13 from the trip and the engine alone on the same file."""
    rows = engine["rows"]
    if trip["created"] != rows:
        raise RuntimeError(f"the trip created {trip['created']} rows of {rows}")
    ratio = round(trip["trip_s"] / engine["seconds"], 2)
    parts = trip["parts_s"]
    return Figure(
        name=NAME.format(rows=rows),
        ours=(
            f"{trip['trip_s']} s: upload {parts['upload']} s, keep + inspect "
            f"{parts['keep_inspect']} s, create {parts['create']} s, queue "
            f"{parts['queue']} s, save {parts['save']} s, to the page {parts['to_page']} s"
        ),
        baseline=f"the engine alone: {round(engine['seconds'], 2)} s",
        ratio=ratio,
        goal=GOAL,
        met=ratio <= GOAL_RATIO,
        details={
            "file_mb": round(trip["file_bytes"] / 1_000_000, 1),
            "trip": trip,
            "engine": engine,
        },
    )


def make_trip(
    browser: Any, services: Any, base_url: str, source: Path, *, smoke: bool
) -> dict[str, Any]:
    """Choose the file, send it, import it, wait for "Completed"; the moments and the job."""
    from playwright.sync_api import expect

    wait_ms = STEP_TIMEOUT_MS["smoke" if smoke else "full"]
    marks: dict[str, float] = {}
    context = browser.new_context(viewport={"width": 1100, "height": 820})
    try:
        context.expose_function("__benchMark", lambda name, at: marks.setdefault(name, at / 1000))
        context.add_init_script(MARKS)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        uploads: list[Any] = []
        page.on("requestfinished", lambda request: _keep_upload(request, uploads))
        page.goto(f"{base_url}/imports")
        expect(page.get_by_text("Drop a file here")).to_be_visible(timeout=30_000)
        offset = clock_offset(page)
        page.set_input_files("input[type=file]", str(source))
        expect(page.get_by_text(source.name)).to_be_visible()
        page.get_by_test_id("inspect-button").click()
        expect(page.get_by_test_id("import-button")).to_be_enabled(timeout=wait_ms)
        page.get_by_test_id("import-button").click()
        page.wait_for_url(re.compile(r".*/imports/[0-9a-f-]{36}"), timeout=wait_ms)
        job_id = page.url.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0]
        expect(page.get_by_test_id("status-badge")).to_have_text("Completed", timeout=wait_ms)
        page.wait_for_timeout(200)  # the last mark's call back to Python
        summary = page.get_by_test_id("import-summary").text_content()
    finally:
        context.close()
    job = services.store.get(uuid.UUID(job_id))
    if job is None or job.result is None:
        raise RuntimeError(f"the job {job_id} has no result")
    # The page's moments on Python's clock.
    page_ahead = offset["page_minus_python_ms"] / 1000
    moments = {name: at - page_ahead for name, at in marks.items()}
    if len(uploads) != 1:
        raise RuntimeError(f"the page sent {len(uploads)} uploads, not one")
    moments.update({name: at - page_ahead for name, at in _upload_moments(uploads[0]).items()})
    missing = {
        "inspect_click",
        "upload_received",
        "mapping_shown",
        "import_click",
        "completed_shown",
    } - moments.keys()
    if missing:
        raise RuntimeError(f"the page reported no {sorted(missing)} (it reported {marks})")
    created, started, finished = (
        _epoch(job.created_at),
        _epoch(job.started_at),
        _epoch(job.finished_at),
    )
    parts = {
        "upload": moments["upload_received"] - moments["inspect_click"],
        "keep_inspect": moments["mapping_shown"] - moments["upload_received"],
        "create": created - moments["import_click"],
        "queue": started - created,
        "save": finished - started,
        "to_page": moments["completed_shown"] - finished,
    }
    waited = moments["import_click"] - moments["mapping_shown"]
    trip = moments["completed_shown"] - moments["inspect_click"] - waited
    return {
        "trip_s": round(trip, 2),
        "parts_s": {name: round(seconds, 2) for name, seconds in parts.items()},
        "mapping_waited_for_its_click_s": round(waited, 3),
        "moments_s_after_click": {
            name: round(at - moments["inspect_click"], 3) for name, at in sorted(moments.items())
        },
        "created": job.result.get("createdCount"),
        "summary": summary,
        "file_bytes": source.stat().st_size,
        "clock": offset,
        "page_errors": errors,
    }


def _keep_upload(request: Any, uploads: list[Any]) -> None:
    if request.method == "POST" and request.url.split("?", 1)[0].endswith("/_upload"):
        uploads.append(request)


def _upload_moments(request: Any) -> dict[str, float]:
    """When the browser began sending the file, and when the answer's head came back: the
    backend sends it once the whole body is in and parsed into its temp file, before the
    page's handler keeps and inspects the file (Reflex's buffered upload route)."""
    timing = request.timing  # ms; startTime since the epoch, the rest since startTime
    start = timing["startTime"]
    return {
        "upload_began": (start + timing["requestStart"]) / 1000,
        "upload_received": (start + timing["responseStart"]) / 1000,
    }


def _epoch(moment: datetime | None) -> float:
    """A job timestamp as seconds since the epoch (SQLite hands them back without a zone: UTC)."""
    if moment is None:
        raise RuntimeError("the job lacks a timestamp it should have")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
