"""Figures 6 and 13, measured in one app and one Chromium: building and starting the app
takes longer than either measurement, so they share it.

The parent writes figure 13's file and times the engine alone on it, then starts
`python -m bench.in_chromium --measure <file>` (bench/browser.py says why a process of its
own), which starts the app (Reflex's AppHarnessProd) and Chromium, measures figure 6
(bench/browser_latency.py) and then makes figure 13's trip (bench/browser_trip.py).

Run: python -m bench.in_chromium [--smoke]   (prints both figures)
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import browser_latency, browser_trip
from bench.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    app_environment,
    measure_in_subprocess,
    print_measurement,
    without_chromium,
)
from bench.processes import ROOT
from bench.stats import Figure

# The build, the start, figure 6 and the trip (a 1,000,000-row trip takes a few minutes).
TIMEOUT = {"full": 2_400.0, "smoke": 900.0}


def run(*, smoke: bool = False) -> list[Figure]:
    """Figures 6 and 13, or "not measured" lines where there is no Chromium (a failure
    under CI)."""
    missing = [
        *(without_chromium(browser_latency.NAME, browser_latency.GOAL) or []),
        *(without_chromium(browser_trip.name(smoke=smoke), browser_trip.GOAL) or []),
    ]
    if missing:
        return missing
    with tempfile.TemporaryDirectory(prefix="bench-trip-") as scratch:
        source, engine = browser_trip.prepare(Path(scratch), smoke=smoke)
        size = "smoke" if smoke else "full"
        result = measure_in_subprocess(
            "bench.in_chromium", smoke=smoke, timeout=TIMEOUT[size], args=[str(source)]
        )
    started = {"app_start_s": result["app_start_s"]}
    return [
        browser_latency.figure({**result["latency"], **started}),
        browser_trip.figure({**result["trip"], **started}, engine),
    ]


def measure(source: Path, *, smoke: bool) -> dict[str, Any]:
    """In the measuring process: the app and Chromium, both stopped after."""
    from playwright.sync_api import sync_playwright
    from reflex.testing import AppHarnessProd

    with app_environment():
        began = time.monotonic()
        with AppHarnessProd.create(root=ROOT, app_name="jobs_ui") as harness:
            started = time.monotonic()
            services = harness.app_module.services  # type: ignore[union-attr]
            base_url = str(harness.frontend_url).rstrip("/")
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                try:
                    latency = browser_latency.follow_jobs(browser, services, base_url, smoke=smoke)
                    latency["measure_s"] = round(time.monotonic() - started, 1)
                    trip = browser_trip.make_trip(browser, services, base_url, source, smoke=smoke)
                finally:
                    browser.close()
    return {"latency": latency, "trip": trip, "app_start_s": round(started - began, 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true", help="small sizes")
    parser.add_argument(
        "--measure", action="store_true", help="measure in this process; print JSON"
    )
    parser.add_argument("source", nargs="?", type=Path, help="(with --measure) the CSV to send")
    args = parser.parse_args()
    if args.measure:
        if args.source is None:
            parser.error("--measure needs figure 13's CSV")
        print_measurement(measure(args.source, smoke=args.smoke))
        return
    for figure in run(smoke=args.smoke):
        print(json.dumps(figure.as_dict(), indent=2))


if __name__ == "__main__":
    main()
