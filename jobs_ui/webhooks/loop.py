"""The delivery loop: claims the deliveries due and sends them, many endpoints at once.

It runs on a thread of its own with its own event loop, beside the jobs: the in-process
runner starts one in the backend, and each Celery worker one in its main process. It is
woken at once when its own process writes deliveries, and looks for those of other
processes (and retries falling due) every `poll_seconds` or sooner.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from jobs_ui.models import utc_now
from jobs_ui.settings import Settings
from jobs_ui.webhooks.queue import Claim, DeliveryQueue
from jobs_ui.webhooks.schedule import RetrySchedule
from jobs_ui.webhooks.sender import Sender
from jobs_ui.webhooks.targets import DNS_TIMEOUT, TargetPolicy

log = logging.getLogger(__name__)

CONCURRENCY = 8  # endpoints sent to at once by one loop
LEASE_MARGIN = timedelta(seconds=30)  # a claim outlives its attempt's deadline by this
# An attempt starting with less of its lease left than its deadline and this (its claim
# waited: the other claims of its batch, SQLite's write lock) renews the lease first.
RENEW_MARGIN = timedelta(seconds=10)
MIN_WAIT = 0.01  # seconds: never spin, even when something is due now
WAIT_SECONDS = 5.0  # for the loop's thread to start; twice this for it to stop


def schedule_of(settings: Settings) -> RetrySchedule:
    return RetrySchedule(
        first=timedelta(seconds=settings.webhook_retry_seconds),
        longest=timedelta(seconds=settings.webhook_retry_max_seconds),
        give_up_after=timedelta(seconds=settings.webhook_give_up_seconds),
    )


def policy_of(settings: Settings) -> TargetPolicy:
    # A lookup never takes longer than the attempt it is part of may.
    timeout = min(DNS_TIMEOUT, settings.webhook_timeout_seconds)
    return TargetPolicy(allow_private=settings.webhook_allow_private, resolve_timeout=timeout)


class DeliveryLoop:
    """Sends what `queue` has due, through a sender `make_sender` builds when the first
    delivery of a run is claimed (most runs of most processes send nothing)."""

    def __init__(
        self,
        queue: DeliveryQueue,
        make_sender: Callable[[], Sender],
        *,
        poll_seconds: float,
        concurrency: int = CONCURRENCY,
    ) -> None:
        self.queue = queue
        self._make_sender = make_sender
        self._poll_seconds = poll_seconds
        self._concurrency = concurrency
        self._thread: threading.Thread | None = None
        self._sender: Sender | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._woken: asyncio.Event | None = None
        self._stopping = threading.Event()
        self._ready = threading.Event()

    @classmethod
    def from_settings(
        cls, settings: Settings, engine: Engine, policy: TargetPolicy | None = None
    ) -> DeliveryLoop:
        timeout = settings.webhook_timeout_seconds
        queue = DeliveryQueue(
            engine,
            schedule=schedule_of(settings),
            lease=timedelta(seconds=timeout) + LEASE_MARGIN,
        )
        checked = policy or policy_of(settings)
        return cls(
            queue,
            lambda: Sender(checked, timeout=timeout),
            poll_seconds=settings.webhook_poll_seconds,
        )

    def start(self, *, sole_sender: bool = False) -> None:
        """Begin sending. `sole_sender`: no other process sends for this database (the
        in-process runner), so any lease left is a dead run's of this one: freed now,
        rather than waited out."""
        if self._thread is not None:
            return
        if sole_sender:
            self.queue.free_endpoints()
        self._stopping.clear()
        self._thread = threading.Thread(target=self._main, name="webhook-deliveries", daemon=True)
        self._thread.start()
        self._ready.wait(WAIT_SECONDS)

    def wake(self) -> None:
        """Deliveries were written: look at once (safe from any thread)."""
        loop, woken = self._loop, self._woken
        if loop is not None and woken is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: none to wake
                loop.call_soon_threadsafe(woken.set)

    def stop(self) -> None:
        """Stop sending: attempts in flight are cut off and recorded as such, due again."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stopping.set()
        self.wake()
        thread.join(WAIT_SECONDS * 2)
        if thread.is_alive():
            log.warning("the webhook delivery loop did not stop in time")

    def _main(self) -> None:
        asyncio.run(self._run())

    async def _run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._woken = asyncio.Event()
        self._ready.set()
        sending: set[asyncio.Task[None]] = set()
        try:
            while not self._stopping.is_set():
                self._woken.clear()
                await self._claim_more(sending)
                await self._wait(sending)
            for task in sending:
                task.cancel()
            await asyncio.gather(*sending, return_exceptions=True)
        finally:
            if self._sender is not None:
                await self._sender.aclose()
            self._sender = None
            self._loop = self._woken = None
            self._ready.clear()

    async def _claim_more(self, sending: set[asyncio.Task[None]]) -> None:
        free = self._concurrency - len(sending)
        if free <= 0:
            return
        try:
            claims = await asyncio.to_thread(self.queue.claim_due, free)
        except SQLAlchemyError:
            log.warning("could not look for webhook deliveries", exc_info=True)
            return
        if claims and self._sender is None:
            self._sender = self._make_sender()
        for claim in claims:
            assert self._sender is not None
            task = asyncio.create_task(self._deliver(self._sender, claim))
            sending.add(task)
            task.add_done_callback(sending.discard)
            task.add_done_callback(lambda _done: self.wake())  # its endpoint is free again

    async def _wait(self, sending: set[asyncio.Task[None]]) -> None:
        """Until woken, the poll interval passes, or the next delivery falls due."""
        timeout = self._poll_seconds
        if len(sending) < self._concurrency:
            try:
                due = await asyncio.to_thread(self.queue.next_due)
            except SQLAlchemyError:
                due = None
            if due is not None:
                timeout = min(timeout, (due - utc_now()).total_seconds())
        assert self._woken is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._woken.wait(), timeout=max(timeout, MIN_WAIT))

    async def _deliver(self, sender: Sender, claim: Claim) -> None:
        try:
            await self._attempt(sender, claim)
        except asyncio.CancelledError:
            raise
        except Exception:  # a bug must not end the loop; the claim's lease runs out
            log.exception("delivery %s failed unexpectedly", claim.delivery_id)

    async def _attempt(self, sender: Sender, claim: Claim) -> None:
        needed = timedelta(seconds=sender.timeout) + RENEW_MARGIN
        if claim.lease_until - utc_now() < needed:
            # Else the lease could run out while the request is in flight, and another
            # loop send this endpoint a second request at once.
            try:
                renewed = await asyncio.to_thread(self.queue.renew, claim)
            except SQLAlchemyError:  # not sent: the lease runs out and it is tried again
                log.warning("could not renew delivery %s", claim.delivery_id, exc_info=True)
                return
            if renewed is None:
                log.info("delivery %s: its claim was lost before it was sent", claim.delivery_id)
                return
            claim = renewed
        try:
            outcome = await sender.send(
                url=claim.url,
                message_id=str(claim.delivery_id),
                secret=claim.secret,
                body=claim.body.encode(),
            )
        except asyncio.CancelledError:
            # Stopping: the receiver may or may not have it; it is due again at next start.
            await asyncio.shield(asyncio.to_thread(self._release, claim))
            raise
        try:
            await asyncio.to_thread(self.queue.record, claim, outcome)
        except SQLAlchemyError:  # the lease runs out and the delivery is tried again
            log.warning("could not record delivery %s", claim.delivery_id, exc_info=True)

    def _release(self, claim: Claim) -> None:
        try:
            self.queue.release(claim)
        except SQLAlchemyError:
            log.warning("could not release delivery %s", claim.delivery_id, exc_info=True)
