"""How many status streams each principal holds open, across every backend.

In one process a counter does it. With Redis, each open stream is a member of a sorted set
per owner, scored with the time it lapses; a backend refreshes its own streams' scores
while they are open, so the streams of a backend that died lapse by themselves instead of
holding the owner's slots for ever.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from typing import Protocol

import anyio
import redis.asyncio as aioredis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

# A Redis slot lapses this long after its backend last refreshed it.
SLOT_LEASE_SECONDS = 60.0
REFRESH_SECONDS = 20.0

# Drop lapsed slots, then take one if fewer than ARGV[3] remain.
_TAKE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""


class TooManyStreamsError(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(
            f"You have {limit} status streams open, the most allowed at once; close one, "
            "or poll the job instead."
        )
        self.limit = limit


class StreamSlots(Protocol):
    def hold(self, owner: str) -> contextlib.AbstractAsyncContextManager[None]:
        """Hold one of `owner`'s slots while the block runs; TooManyStreamsError if none."""

    async def run(self) -> None:
        """Background upkeep while the app runs (refreshing shared slots)."""


class LocalStreamSlots:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open: Counter[str] = Counter()

    @property
    def open_streams(self) -> int:
        """Streams open in this process, of every owner (what a long run watches)."""
        return self._open.total()

    @contextlib.asynccontextmanager
    async def hold(self, owner: str) -> AsyncIterator[None]:
        if self._open[owner] >= self.limit:
            raise TooManyStreamsError(self.limit)
        self._open[owner] += 1
        try:
            yield
        finally:
            self._open[owner] -= 1
            if self._open[owner] <= 0:
                del self._open[owner]

    async def run(self) -> None:
        await asyncio.Event().wait()  # nothing to keep up


class RedisStreamSlots:
    """Shared by all backends. If Redis cannot be reached, streams are let through (with a
    warning): a stream costs little, and refusing every stream while Redis restarts would
    cost more than a moment without the limit."""

    def __init__(self, url: str, namespace: str, limit: int) -> None:
        self.limit = limit
        self._client = aioredis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._prefix = f"{namespace}:stream-slots:"
        self._take = self._client.register_script(_TAKE)
        self._held: dict[str, str] = {}  # slot id -> its owner's key

    @contextlib.asynccontextmanager
    async def hold(self, owner: str) -> AsyncIterator[None]:
        key, slot = self._prefix + owner, uuid.uuid4().hex
        now = time.time()
        try:
            taken = await self._take(
                keys=[key],
                args=[now, now + SLOT_LEASE_SECONDS, self.limit, slot, int(SLOT_LEASE_SECONDS * 2)],
            )
        except RedisError as error:
            log.warning("stream limit not checked, Redis unavailable: %s", error)
            taken = None
        if taken == 0:
            raise TooManyStreamsError(self.limit)
        if taken:
            self._held[slot] = key
        try:
            yield
        finally:
            if self._held.pop(slot, None) is not None:
                # A stream usually ends by being cancelled (its client left): shielded, the
                # release still reaches Redis instead of holding the slot until it lapses.
                with anyio.CancelScope(shield=True), contextlib.suppress(RedisError):
                    await self._client.zrem(key, slot)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(REFRESH_SECONDS)
            lapses = time.time() + SLOT_LEASE_SECONDS
            try:
                async with self._client.pipeline(transaction=False) as pipe:
                    for slot, key in list(self._held.items()):
                        pipe.zadd(key, {slot: lapses}, xx=True)
                    await pipe.execute()
            except RedisError as error:
                log.warning("could not refresh stream slots: %s", error)
