"""Fan-out of job changes to the streams of one process.

A notification only says "job X is now at version V". The hub then reads the row once (one
read per change per process, however many streams follow the job) and wakes every stream of
that job. Lost or doubled notifications cost nothing but a re-read, and a slow periodic
re-read while anyone is watching catches whatever was missed.
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
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def current(self) -> SnapshotT | None:
        return self.feed.snapshot

    async def next_after(self, version: int, within: float) -> SnapshotT | None:
        """The newest snapshot past `version`, or None if nothing newer came `within` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            snapshot = self.feed.snapshot
            if snapshot is not None and snapshot.version > version:
                return snapshot
            self.changed.clear()
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            # asyncio.timeout, not wait_for: no extra task per waiting stream, which matters
            # when one change wakes ten thousand of them.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await self.changed.wait()


@dataclass(eq=False)
class _Feed(Generic[SnapshotT]):
    job_id: uuid.UUID
    subscribers: set[Subscription[SnapshotT]] = field(default_factory=set)
    snapshot: SnapshotT | None = None
    wanted_version: int = 0
    reader: asyncio.Task[None] | None = None
    rereader: asyncio.Task[None] | None = None


class JobFeedHub(Generic[SnapshotT]):
    """Keeps one feed per watched job; `notify` is safe to call from any thread."""

    def __init__(
        self,
        load: Callable[[uuid.UUID], SnapshotT | None],
        *,
        reread_interval: float = 5.0,
    ) -> None:
        self._load = load
        self._reread_interval = reread_interval
        self._feeds: dict[uuid.UUID, _Feed[SnapshotT]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

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

    @contextlib.asynccontextmanager
    async def subscribe(self, job_id: uuid.UUID) -> AsyncIterator[Subscription[SnapshotT]]:
        """Watch a job; the subscription's `current` is loaded before this yields."""
        self._loop = asyncio.get_running_loop()
        feed = self._feeds.get(job_id)
        if feed is None:
            feed = self._feeds[job_id] = _Feed(job_id)
            feed.rereader = asyncio.create_task(self._reread_periodically(feed))
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
        for subscription in feed.subscribers:
            subscription.changed.set()

    async def _reread_periodically(self, feed: _Feed[SnapshotT]) -> None:
        while True:
            await asyncio.sleep(self._reread_interval)
            try:
                self._publish(feed, await asyncio.to_thread(self._load, feed.job_id))
            except Exception:  # a database hiccup must not kill the feed; next tick retries
                log.exception("periodic re-read of job %s failed", feed.job_id)

    def _drop(self, feed: _Feed[SnapshotT]) -> None:
        self._feeds.pop(feed.job_id, None)
        for task in (feed.reader, feed.rereader):
            if task is not None and not task.done():
                task.cancel()
