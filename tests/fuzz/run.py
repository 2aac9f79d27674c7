"""The fuzz targets for as long as asked: python -m tests.fuzz.run --minutes 10 [csv|jsonl|xlsx]

Each target (a reader alone, and the whole import) runs in rounds of fresh random inputs
until its time is up, under a memory cap, so unbounded memory shows as a MemoryError and a
hang as Hang; the first failure of a target is printed with the input that caused it.
"""

from __future__ import annotations

import argparse
import logging
import random
import resource
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from hypothesis import given, seed, settings

from jobs_ui.engines.formats import FileFormat
from tests.fuzz.inputs import FILES
from tests.fuzz.targets import ImportTarget, read_all
from tests.fuzz.test_fuzz_readers import FUZZ

MEMORY_CAP_BYTES = 3 << 30
EXAMPLES_PER_ROUND = 250


def run_target(name: str, fmt: FileFormat, check: Callable[[bytes], None], seconds: float) -> bool:
    """Rounds of `check` over fresh inputs for `seconds`; False at the first failure."""
    ends, inputs, started = time.monotonic() + seconds, 0, time.monotonic()
    while time.monotonic() < ends:

        @seed(random.getrandbits(64))
        @settings(FUZZ, max_examples=EXAMPLES_PER_ROUND)
        @given(data=FILES[fmt.value])
        def one_round(data: bytes) -> None:
            check(data)

        try:
            one_round()
        except Exception:
            print(f"{name}: FAILED after {inputs:,} inputs\n{traceback.format_exc()}", flush=True)
            return False
        inputs += EXAMPLES_PER_ROUND
    minutes = (time.monotonic() - started) / 60
    print(f"{name}: {inputs:,} inputs in {minutes:.1f} min, nothing found", flush=True)
    return True


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("formats", nargs="*", default=[fmt.value for fmt in FileFormat])
    parser.add_argument("--minutes", type=float, default=10.0, help="per target")
    args = parser.parse_args()
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP_BYTES, MEMORY_CAP_BYTES))
    logging.getLogger("jobs_ui").setLevel(logging.ERROR)  # a failed job logs; that is fine here
    scratch = Path(tempfile.mkdtemp(prefix="jobs-ui-fuzz-"))
    target = ImportTarget.at(scratch)
    seconds = args.minutes * 60 / 2  # the reader, then the import
    held = True
    for fmt in map(FileFormat, args.formats):
        path = scratch / f"fuzzed.{fmt.value}"

        def read(data: bytes, fmt: FileFormat = fmt, path: Path = path) -> None:
            path.write_bytes(data)
            read_all(path, fmt)

        def imported(data: bytes, fmt: FileFormat = fmt) -> None:
            target.import_bytes(data, fmt)

        held &= run_target(f"{fmt.value} reader", fmt, read, seconds)
        held &= run_target(f"{fmt.value} import", fmt, imported, seconds)
        print(f"  imports so far: {dict(target.outcomes)}", flush=True)
    sys.exit(0 if held else 1)


if __name__ == "__main__":
    main()
