"""Fan-out of job changes to the streams of one process.

A notification only says "job X is now at version V". The hub then reads the row once (one
read per change per process, however many streams follow the job) and wakes every stream of
that job. Lost or doubled notifications cost nothing but a re-read, and a slow periodic
re-read while anyone is watching catches whatever was missed.

Waking ten thousand streams must cost little per stream: they all wait on one event per job
(replaced at each change), with no timer of their own. A single hub-wide tick wakes them
every `heartbeat_interval` seconds, so each stream can send a keep-alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

log = logging.getLogger(__name__)


class Versioned(Protocol):
    @property
    def version(self) -> int: ...


SnapshotT = TypeVar("SnapshotT", bound=Versioned)


@dataclass(eq=False)
class Subscription(Generic[SnapshotT]):
    """One stream's view of a job's feed."""

    feed: _Feed[SnapshotT]

    @property
    def current(self) -> SnapshotT | None:
        return self.feed.snapshot

    async def next_after(self, version: int) -> SnapshotT | None:
        """The newest snapshot past `version`; None if the hub's heartbeat tick came first."""
        feed = self.feed
        woken = feed.woken  # taken before the check: a change after it sets this very event
        snapshot = feed.snapshot
        if snapshot is None or snapshot.version <= version:
            await woken.wait()
            snapshot = feed.snapshot
        return snapshot if snapshot is not None and snapshot.version > version else None


@dataclass(eq=False)
class _Feed(Generic[SnapshotT]):
    job_id: uuid.UUID
    subscribers: set[Subscription[SnapshotT]] = field(default_factory=set)
    snapshot: SnapshotT | None = None
    wanted_version: int = 0
    woken: asyncio.Event = field(default_factory=asyncio.Event)
    reader: asyncio.Task[None] | None = None
    rereader: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """Wake every stream waiting on this feed; later waits use a fresh event."""
        woken, self.woken = self.woken, asyncio.Event()
        woken.set()


class JobFeedHub(Generic[SnapshotT]):
    """Keeps one feed per watched job; `notify` is safe to call from any thread."""

    def __init__(
        self,
        load: Callable[[uuid.UUID], SnapshotT | None],
        *,
        reread_interval: float = 5.0,
        heartbeat_interval: float = 15.0,
    ) -> None:
        self._load = load
        self._reread_interval = reread_interval
        self.heartbeat_interval = heartbeat_interval
        self._feeds: dict[uuid.UUID, _Feed[SnapshotT]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ticker: asyncio.Task[None] | None = None
        # Any job's change, watched or not, for whoever follows all of them (the pages'
        # news): a count to tell a change that came during a read, and an event per change.
        self.changes = 0
        self._changed = asyncio.Event()

    @property
    def watched_jobs(self) -> int:
        return len(self._feeds)

    def notify(self, job_id: uuid.UUID, version: int) -> None:
        """Job `job_id` changed and is now at `version` (or later)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return  # nobody in this process has ever watched a job
        try:
            loop.call_soon_threadsafe(self._on_notify, job_id, version)
        except RuntimeError:  # the loop is shutting down
            return

    def refresh_all(self) -> None:
        """Re-read every watched job now (call on the event loop), e.g. after an outage of
        the notifications."""
        for feed in self._feeds.values():
            if feed.reader is None or feed.reader.done():
                feed.reader = asyncio.create_task(self._refresh(feed))

    async def next_change(self, *, after: int) -> None:
        """Wait until some job changes past the count `after` (taken from `changes` before
        reading). Call on the event loop."""
        self._loop = asyncio.get_running_loop()  # notifications are dropped until a loop is known
        if self.changes == after:
            await self._changed.wait()

    @contextlib.asynccontextmanager
    async def subscribe(self, job_id: uuid.UUID) -> AsyncIterator[Subscription[SnapshotT]]:
        """Watch a job; the subscription's `current` is loaded before this yields."""
        self._loop = asyncio.get_running_loop()
        feed = self._feeds.get(job_id)
        if feed is None:
            feed = self._feeds[job_id] = _Feed(job_id)
            feed.rereader = asyncio.create_task(self._reread_periodically(feed))
        if self._ticker is None or self._ticker.done():
            self._ticker = asyncio.create_task(self._tick())
        subscription = Subscription(feed)
        feed.subscribers.add(subscription)
        try:
            if feed.snapshot is None:
                await self._refresh(feed)
            yield subscription
        finally:
            feed.subscribers.discard(subscription)
            if not feed.subscribers:
                self._drop(feed)

    # --- internals ---------------------------------------------------------------------

    def _on_notify(self, job_id: uuid.UUID, version: int) -> None:
        self.changes += 1
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()
        feed = self._feeds.get(job_id)
        if feed is None:
            return
        if feed.snapshot is not None and feed.snapshot.version >= version:
            return
        feed.wanted_version = max(feed.wanted_version, version)
        if feed.reader is None or feed.reader.done():
            feed.reader = asyncio.create_task(self._refresh(feed))

    async def _refresh(self, feed: _Feed[SnapshotT]) -> None:
        """Read the row until what we hold is at least what was announced."""
        while True:
            snapshot = await asyncio.to_thread(self._load, feed.job_id)
            self._publish(feed, snapshot)
            held = feed.snapshot.version if feed.snapshot is not None else 0
            if snapshot is None or held >= feed.wanted_version:
                return

    def _publish(self, feed: _Feed[SnapshotT], snapshot: SnapshotT | None) -> None:
        if snapshot is None:
            return
        if feed.snapshot is not None and snapshot.version <= feed.snapshot.version:
            return
        feed.snapshot = snapshot
        feed.wake()

    async def _tick(self) -> None:
        """Wake every stream now and then, with or without a change (for keep-alives)."""
        while self._feeds:
            await asyncio.sleep(self.heartbeat_interval)
            for feed in list(self._feeds.values()):
                feed.wake()

    async def _reread_periodically(self, feed: _Feed[SnapshotT]) -> None:
        while True:
            await asyncio.sleep(self._reread_interval)
            try:
                self._publish(feed, await asyncio.to_thread(self._load, feed.job_id))
            except Exception:  # a database hiccup must not kill the feed; next tick retries
                log.exception("periodic re-read of job %s failed", feed.job_id)

    def _drop(self, feed: _Feed[SnapshotT]) -> None:
        self._feeds.pop(feed.job_id, None)
        idle_ticker = None
        if not self._feeds:
            # Forget it now: a cancelled task is not done() until it next runs, and a new
            # subscriber in the meantime must start a ticker of its own.
            idle_ticker, self._ticker = self._ticker, None
        for task in (feed.reader, feed.rereader, idle_ticker):
            if task is not None and not task.done():
                task.cancel()
