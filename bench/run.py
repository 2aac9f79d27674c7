"""Run the benchmarks, print the table, write the results as JSON.

python -m bench.run            # full sizes (make bench)
python -m bench.run --smoke    # tiny sizes, to keep the scripts working (the test suite)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import browser_latency, fanout, latency, scale_latency, server_cost, throughput
from bench.stats import Figure

RESULTS = Path(__file__).resolve().parent / "results"


def table(figures: list[Figure]) -> str:
    rows = [
        "| Figure | Ours | Baseline | Ratio | Goal | Met |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for figure in figures:
        met = {True: "yes", False: "no", None: "—"}[figure.met]
        ratio = "—" if figure.ratio is None else f"{figure.ratio}x"
        cells = [figure.name, figure.ours, figure.baseline, ratio, figure.goal, met]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true", help="tiny sizes; checks the scripts run")
    parser.add_argument("--output", type=Path, default=None, help="where to write the JSON")
    args = parser.parse_args()
    began = time.monotonic()
    figures = [
        *latency.run(smoke=args.smoke),
        *fanout.run(smoke=args.smoke),
        *server_cost.run(smoke=args.smoke),
        *throughput.run(smoke=args.smoke),
        *browser_latency.run(smoke=args.smoke),
        *scale_latency.run(smoke=args.smoke),
    ]
    machine = (
        f"{os.cpu_count()} cores, {platform.python_implementation()} {platform.python_version()}"
    )
    print(f"jobs_ui benchmarks ({'smoke' if args.smoke else 'full'}; {machine})\n")
    print(table(figures))
    output = args.output or RESULTS / ("smoke.json" if args.smoke else "latest.json")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(
        json.dumps(
            {
                "when": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": machine,
                "seconds": round(time.monotonic() - began, 1),
                "figures": [figure.as_dict() for figure in figures],
            },
            indent=2,
        )
    )
    print(f"\nresults: {output}")


if __name__ == "__main__":
    main()
