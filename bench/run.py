"""Run the benchmarks, print the table, write the results as JSON.

python -m bench.run                # full sizes (make bench)
python -m bench.run --smoke        # tiny sizes, to keep the scripts working (the test suite)
python -m bench.run --figures 1,3  # some figures only; some come together: 4, 5 and 12;
                                   # 6 and 13; 9 to 11
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import (
    fanout,
    import_modes,
    in_chromium,
    latency,
    scale_latency,
    server_cost,
    throughput,
    xlsx_import,
)
from bench.stats import Figure

RESULTS = Path(__file__).resolve().parent / "results"
# Each module and the figures it makes, in the table's order.
MODULES = (
    (latency, {1}),
    (fanout, {2}),
    (server_cost, {3}),
    (throughput, {4, 5, 12}),
    (in_chromium, {6, 13}),
    (scale_latency, {7}),
    (xlsx_import, {8}),
    (import_modes, {9, 10, 11}),
)
ALL_FIGURES = frozenset().union(*(numbers for _module, numbers in MODULES))


def figure_numbers(text: str) -> frozenset[int]:
    """`--figures 1,3,7` as a set of figure numbers."""
    try:
        chosen = frozenset(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of figure numbers: {text!r}") from None
    if not chosen or not chosen <= ALL_FIGURES:
        raise argparse.ArgumentTypeError(f"figures are numbered 1 to {max(ALL_FIGURES)}")
    return chosen


def figure_number(figure: Figure) -> int:
    """12 for "12. XLSX export, ..."."""
    return int(figure.name.split(".", 1)[0])


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
    parser.add_argument(
        "--figures",
        type=figure_numbers,
        default=None,
        metavar="N,N,...",
        help=(
            "run only these figures (4, 5 and 12; 6 and 13; 9 to 11 come together); default: all"
        ),
    )
    args = parser.parse_args()
    if args.figures is None:
        args.figures = ALL_FIGURES
    began = time.monotonic()
    figures = [
        figure
        for module, numbers in MODULES
        if numbers & args.figures
        for figure in module.run(smoke=args.smoke)
    ]
    figures.sort(key=figure_number)  # a module may make figures far apart (4, 5 and 12)
    machine = (
        f"{os.cpu_count()} cores, {platform.python_implementation()} {platform.python_version()}"
    )
    print(f"jobs_ui benchmarks ({'smoke' if args.smoke else 'full'}; {machine})\n")
    print(table(figures))
    if args.output is not None:
        output = args.output
    elif args.figures != ALL_FIGURES:
        # A partial run never replaces the last full one.
        chosen = "-".join(str(number) for number in sorted(args.figures))
        output = RESULTS / f"{'smoke' if args.smoke else 'partial'}-{chosen}.json"
    else:
        output = RESULTS / ("smoke.json" if args.smoke else "latest.json")
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
