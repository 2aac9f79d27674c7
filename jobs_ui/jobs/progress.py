"""Progress of a running job written to its row, throttled, with cancellation checks,
and how fast it goes: rows per second and the seconds left, smoothed."""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator

from jobs_ui.engines.progress import JobCancelled
from jobs_ui.jobs.store import JobStore

log = logging.getLogger(__name__)

MILESTONE_STEP = 25  # log at 25%, 50%, 75%

# No rate or ETA until a job (or, for rows, its current step) has run this long, and no ETA
# until the bar has moved this many points: early figures are mostly noise.
MIN_SECONDS = 3.0
MIN_POINTS = 2
# A pace is measured over at least this long, and the percentage's over at least this many
# points too (it moves in whole points, so a short window of a slow job would see 0 or 1).
WINDOW_SECONDS = 30.0
WINDOW_POINTS = 5
# The time constant of the moving average over those measurements.
SMOOTHING_SECONDS = 5.0
# Samples closer together than this are merged (engines may report many times a second).
SAMPLE_SECONDS = 0.5
# A stalled job's ETA would grow without end; past a week it says nothing more.
MAX_ETA_SECONDS = 7 * 24 * 3600


class Pace:
    """How fast a running count grows per second, smoothed.

    Measured over a sliding window (at least `window_seconds` long, and spanning at least
    `window_span` of the count), then averaged exponentially in time, so one quick or slow
    batch moves it little. None until the window is `MIN_SECONDS` long.
    """

    def __init__(
        self,
        now: float,
        value: float,
        *,
        window_seconds: float = WINDOW_SECONDS,
        window_span: float = 0,
    ) -> None:
        self._samples: deque[tuple[float, float]] = deque([(now, value)])
        self._window_seconds = window_seconds
        self._window_span = window_span
        self._measured_at = now
        self.value = value
        self.rate: float | None = None

    def add(self, now: float, value: float) -> float | None:
        """Record the count at `now`; returns the smoothed rate (None while too early)."""
        self.value = value
        samples = self._samples
        if len(samples) > 1 and now - samples[-1][0] < SAMPLE_SECONDS:
            samples[-1] = (now, value)
        else:
            samples.append((now, value))
        # Keep the oldest sample that still makes the window long (and wide) enough.
        while len(samples) > 2 and self._long_enough(samples[1], now, value):
            samples.popleft()
        start, start_value = samples[0]
        span = now - start
        if span < MIN_SECONDS:
            return self.rate
        measured = (value - start_value) / span
        if self.rate is None:
            self.rate = measured
        else:
            weight = 1.0 - math.exp(-max(now - self._measured_at, 0.0) / SMOOTHING_SECONDS)
            self.rate += weight * (measured - self.rate)
        self._measured_at = now
        return self.rate

    def _long_enough(self, sample: tuple[float, float], now: float, value: float) -> bool:
        at, sample_value = sample
        return now - at >= self._window_seconds and value - sample_value >= self._window_span


class StoreProgressReporter:
    """Writes a job's progress at most every `min_interval` seconds and checks for cancel.

    A cancel arrives either through `cancel_event` (same process, immediate) or through the
    job row's `cancel_requested` flag, which every progress write reads back for free. A
    write that finds the job no longer on run `attempt` stops the run the same way.

    Made as the job starts PROCESSING: the percentage's pace from then on gives the ETA,
    and the `rows` an engine reports give the rows per second of its current step.
    """

    def __init__(
        self,
        store: JobStore,
        job_id: uuid.UUID,
        *,
        cancel_event: threading.Event | None = None,
        attempt: int | None = None,
        min_interval: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._job_id = job_id
        self._attempt = attempt
        self.cancel_event = cancel_event or threading.Event()
        self._min_interval = min_interval
        self._clock = clock
        self._last_write = float("-inf")
        self._writes_held = False
        self.progress = 0
        self.message = ""
        self._percent_pace = Pace(clock(), 0, window_span=WINDOW_POINTS)
        self._rows_pace: Pace | None = None

    def update(
        self, progress: int, message: str, *, force: bool = False, rows: int | None = None
    ) -> None:
        """Record progress; raises JobCancelled if the job should stop."""
        self.check_cancelled()
        if progress // MILESTONE_STEP > self.progress // MILESTONE_STEP:
            log.info("job %s at %d%%: %s", self._job_id, progress, message)
        self.progress = max(self.progress, progress)
        self.message = message
        now = self._clock()
        self._percent_pace.add(now, self.progress)
        self._count_rows(now, rows)
        if self._writes_held or (not force and now - self._last_write < self._min_interval):
            return
        self._last_write = now
        job = self._store.report_progress(
            self._job_id,
            progress=self.progress,
            message=message,
            rows_per_second=self.rows_per_second,
            eta_seconds=self.eta_seconds,
            attempt=self._attempt,
        )
        if job is None or job.cancel_requested:
            self.cancel_event.set()
            self.check_cancelled()

    @property
    def rows_per_second(self) -> float | None:
        """Rows the current step processes per second, smoothed; None until it is known."""
        pace = self._rows_pace
        if pace is None or pace.rate is None or pace.value <= 0:
            return None
        return round(max(pace.rate, 0.0), 1)

    @property
    def eta_seconds(self) -> int | None:
        """Seconds left at the percentage's smoothed pace; None until it is known."""
        pace = self._percent_pace  # its rate is None for the job's first MIN_SECONDS
        if pace.rate is None or pace.rate <= 0 or pace.value < MIN_POINTS:
            return None
        return min(round((100 - pace.value) / pace.rate), MAX_ETA_SECONDS)

    def _count_rows(self, now: float, rows: int | None) -> None:
        if rows is None:
            self._rows_pace = None
        elif self._rows_pace is None or rows < self._rows_pace.value:
            # The first count, or a new step counting again from 0: measure it afresh.
            self._rows_pace = Pace(now, rows)
        else:
            self._rows_pace.add(now, rows)

    def check_cancelled(self) -> None:
        if self.cancel_event.is_set():
            raise JobCancelled

    @contextlib.contextmanager
    def writes_held(self) -> Iterator[None]:
        """Skip database writes (cancel checks go on): for while this thread holds SQLite's
        single write lock, where a progress write from another connection would wait on it."""
        self._writes_held = True
        try:
            yield
        finally:
            self._writes_held = False
