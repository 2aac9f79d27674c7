"""The news of every open page of one process, read once for all of them.

Every page shows its visitor a toast when one of their jobs ends, and a count of those still
running. Asking the database for each open tab would cost a query per tab per moment; this
feed asks once for every visitor with a page open, right after any job changes (the hub
hears of every change the app's notifications carry) and at the latest every few seconds,
and hands each tab its visitor's jobs. Bursts of changes (progress of a big import) are
read at most once per `min_gap` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from jobs_ui.access.principal import Principal
from jobs_ui.models import Job, utc_now

log = logging.getLogger(__name__)

# A page keeps its news this long at most: a job that ended longer ago is not news.
NEWS_HORIZON = timedelta(minutes=5)

ReadNews = Callable[[Collection[Principal], datetime], Awaitable[dict[str, list[Job]]]]


class ChangeSignal(Protocol):
    """What the feed waits on between reads (the hub, in the app)."""

    @property
    def changes(self) -> int: ...

    async def next_change(self, *, after: int) -> None: ...


@dataclass(eq=False)
class NewsSubscription:
    """One tab's view of the feed: its visitor's jobs as last read."""

    principal: Principal
    since: datetime
    jobs: list[Job] | None = None
    _fresh: asyncio.Event = field(default_factory=asyncio.Event)
    _handed: frozenset[tuple[str, int]] | None = None

    async def next(self, wait: float) -> list[Job] | None:
        """The visitor's jobs (running, or ended within the horizon) once a read newer than
        the last one handed out is in; None if `wait` seconds pass first."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._fresh.wait(), wait)
        if not self._fresh.is_set():
            return None
        self._fresh.clear()
        return self.jobs

    def _hand(self, jobs: list[Job]) -> None:
        """Hand over a reading unless it says what the last one did: a tab whose visitor's
        jobs did not change has nothing to do (it takes no lock on its state)."""
        versions = frozenset((str(job.id), job.version) for job in jobs)
        if versions == self._handed:
            return
        self.jobs, self._handed = jobs, versions
        self._fresh.set()


class NewsFeed:
    def __init__(
        self,
        read: ReadNews,
        changes: ChangeSignal,
        *,
        quiet_seconds: float = 5.0,
        min_gap: float = 1.0,
    ) -> None:
        self._read = read
        self._changes = changes
        self._quiet_seconds = quiet_seconds
        self._min_gap = min_gap
        self._subscriptions: set[NewsSubscription] = set()
        self._reader: asyncio.Task[None] | None = None
        self._wake_now = asyncio.Event()

    @property
    def subscribers(self) -> int:
        return len(self._subscriptions)

    @contextlib.asynccontextmanager
    async def subscribe(
        self, principal: Principal, *, since: datetime
    ) -> AsyncIterator[NewsSubscription]:
        """Follow one visitor's jobs (ended after `since` count as news) while inside."""
        subscription = NewsSubscription(principal, since)
        self._subscriptions.add(subscription)
        self._wake_now.set()  # a new tab wants its count now, not at the next change
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._read_while_watched())
        try:
            yield subscription
        finally:
            self._subscriptions.discard(subscription)

    async def _read_while_watched(self) -> None:
        loop = asyncio.get_running_loop()
        while self._subscriptions:
            seen = self._changes.changes
            started = loop.time()
            self._wake_now.clear()
            try:
                await self._read_once()
            except Exception:  # a database hiccup: the pages keep what they show; read again
                log.warning("reading the pages' job news failed", exc_info=True)
            await asyncio.sleep(max(0.0, started + self._min_gap - loop.time()))
            await self._next_reason(seen)

    async def _next_reason(self, seen: int) -> None:
        """Wait for a job's change, a new tab, or the quiet interval, whichever comes first."""
        if self._wake_now.is_set():
            return
        change = asyncio.create_task(self._changes.next_change(after=seen))
        new_tab = asyncio.create_task(self._wake_now.wait())
        try:
            await asyncio.wait(
                (change, new_tab), timeout=self._quiet_seconds, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for task in (change, new_tab):
                task.cancel()

    async def _read_once(self) -> None:
        subscriptions = list(self._subscriptions)
        if not subscriptions:
            return
        oldest = min(s.since for s in subscriptions)
        ended_after = max(oldest, utc_now() - NEWS_HORIZON)
        news = await self._read([s.principal for s in subscriptions], ended_after)
        for subscription in subscriptions:
            subscription._hand(news.get(subscription.principal.subject, []))
