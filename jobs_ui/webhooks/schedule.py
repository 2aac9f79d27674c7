"""When a failed delivery is tried again: soon at first, then less and less often."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

FACTOR = 4  # 1 s, 4 s, 16 s, 64 s, ...


@dataclass(frozen=True)
class RetrySchedule:
    """Waits of `first`, then each `FACTOR` times the one before, at most `longest`; a
    delivery whose next try would come `give_up_after` or more after it was written is
    given up instead. The defaults: 1 s, 4 s, 16 s, ... then hourly, for 24 hours: 30 tries,
    the last 23 h 23 min after the first."""

    first: timedelta = timedelta(seconds=1)
    longest: timedelta = timedelta(hours=1)
    give_up_after: timedelta = timedelta(hours=24)

    def wait_after(self, attempts: int) -> timedelta:
        """The wait after the `attempts`-th failed try (1 for the first)."""
        # In float seconds: a timedelta overflows long before the exponent stops growing.
        seconds = self.first.total_seconds() * float(FACTOR) ** min(max(attempts - 1, 0), 64)
        return min(timedelta(seconds=min(seconds, 1e9)), self.longest)

    def next_attempt(
        self, *, attempts: int, created_at: datetime, now: datetime
    ) -> datetime | None:
        """When to try again after `attempts` failed tries; None: give up."""
        at = now + self.wait_after(attempts)
        return None if at - created_at >= self.give_up_after else at
