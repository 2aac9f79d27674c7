"""Job change notifications across processes, over Redis pub/sub.

Writers (workers, backends) publish "job X is at version V"; each backend process holds ONE
subscription and hands every message to its local fan-out hub. The job row stays the truth:
a message lost while Redis restarts is caught by the hub's periodic re-read, and on
reconnecting the listener asks the hub to re-read every watched job at once.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable

import redis
import redis.asyncio as aioredis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

RECONNECT_DELAYS = (0.1, 0.25, 0.5, 1.0, 2.0)


def changes_channel(namespace: str) -> str:
    return f"{namespace}:job-changes"


def encode_change(job_id: uuid.UUID, version: int) -> str:
    return f"{job_id} {version}"


def decode_change(data: bytes | str) -> tuple[uuid.UUID, int] | None:
    text = data.decode() if isinstance(data, bytes) else data
    try:
        job_id, version = text.split()
        return uuid.UUID(job_id), int(version)
    except ValueError:
        log.warning("ignoring a malformed job change message: %r", text[:100])
        return None


class RedisPublisher:
    """A notifier (see `jobs_ui.jobs.store.Notifier`) that publishes to Redis; never raises."""

    def __init__(self, url: str, namespace: str) -> None:
        self._client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._channel = changes_channel(namespace)

    def __call__(self, job_id: uuid.UUID, version: int) -> None:
        try:
            self._client.publish(self._channel, encode_change(job_id, version))
        except RedisError as error:  # the periodic re-read covers what this misses
            log.warning("could not publish a change of job %s: %s", job_id, error)

    def close(self) -> None:
        self._client.close()


class RedisListener:
    """The one subscription of this process; reconnects by itself, forever."""

    def __init__(
        self,
        url: str,
        namespace: str,
        *,
        on_change: Callable[[uuid.UUID, int], None],
        on_reconnect: Callable[[], None],
    ) -> None:
        self._url = url
        self._channel = changes_channel(namespace)
        self._on_change = on_change
        self._on_reconnect = on_reconnect
        self.connected = asyncio.Event()
        self._ever_connected = False

    async def run(self) -> None:
        failures = 0
        while True:
            try:
                await self._listen()
            except (RedisError, OSError) as error:
                self.connected.clear()
                delay = RECONNECT_DELAYS[min(failures, len(RECONNECT_DELAYS) - 1)]
                if failures == 0:
                    log.warning("job change subscription lost (%s); reconnecting", error)
                failures += 1
                await asyncio.sleep(delay)
            else:
                failures = 0

    async def _listen(self) -> None:
        client = aioredis.Redis.from_url(self._url, socket_connect_timeout=2)
        try:
            async with client.pubsub() as pubsub:
                await pubsub.subscribe(self._channel)
                if self._ever_connected:
                    log.info("job change subscription restored")
                    self._on_reconnect()  # changes may have been missed meanwhile
                self._ever_connected = True
                self.connected.set()
                async for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    change = decode_change(message["data"])
                    if change is not None:
                        self._on_change(*change)
        finally:
            await client.aclose()
