"""Following one job from a page: the Python port of the `useJobStatus` React hook.

Use it on a page, or subclass it and override the hooks `on_status_change`, `on_complete`
and `on_error` (return events: a toast, a redirect, a download). Start following with
`start_following(job_id)`; the background event `follow` keeps the vars up to date over the
SSE stream, falling back to polling by itself, and stops when the job ends, when the job id
changes, or when the browser tab is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import httpx
import reflex as rx

from jobs_ui.client import (
    FollowOptions,
    JobNotFoundError,
    JobsApiError,
    JobUpdate,
    Transport,
)
from jobs_ui.state.backend import jobs_client, tab_is_open
from jobs_ui.state.visitor import owner_of

log = logging.getLogger(__name__)

# How often a follower checks that its tab is still open and its job still wanted.
WATCHDOG_SECONDS = 1.0


class JobStatusState(rx.State, mixin=True):
    """The state of one followed job, and the flags a page needs to show it.

    A mixin: each page state that inherits it (`class MyJob(JobStatusState, rx.State)`) gets
    its own copy of these vars and handlers, so two pages never share a followed job.
    """

    job_id: str = ""
    status: str = ""
    progress: int = 0
    message: str = ""
    error: str = ""
    result: dict[str, Any] = {}
    kind: str = ""
    dataset: str = ""
    version: int = 0
    not_found: bool = False
    # "live" (SSE), "polling", "offline" (backend unreachable; still trying), or "".
    transport: str = ""
    action_error: str = ""

    # Options, as in useJobStatus(jobId, {useSSE, pollInterval}).
    use_sse: bool = True
    poll_interval: float = 2.0

    # Bumped whenever following restarts, so an older follower knows to stop.
    _generation: int = 0

    @rx.var
    def is_loading(self) -> bool:
        return bool(self.job_id) and not self.status and not self.not_found

    @rx.var
    def is_completed(self) -> bool:
        return self.status == "COMPLETED"

    @rx.var
    def is_failed(self) -> bool:
        return self.status == "FAILED"

    @rx.var
    def is_processing(self) -> bool:
        return self.status == "PROCESSING"

    @rx.var
    def is_cancelled(self) -> bool:
        return self.status == "CANCELLED"

    @rx.var
    def is_active(self) -> bool:
        """Still to finish: pending or processing."""
        return self.status in ("PENDING", "PROCESSING")

    # --- hooks for subclasses ------------------------------------------------------------

    @rx.event
    def on_status_change(self, status: str) -> Any:
        """Called with each new status."""

    @rx.event
    def on_complete(self, result: dict[str, Any]) -> Any:
        """Called once when the followed job is seen COMPLETED."""

    @rx.event
    def on_error(self, error: str) -> Any:
        """Called once when the followed job is seen FAILED (or cannot be found)."""

    # --- following -----------------------------------------------------------------------

    @rx.event
    def follow_route_job(self) -> Any:
        """`on_load` of a page whose route ends with a `[job_id]` segment.

        `?sse=off` in the page URL follows by polling only (for networks that break streams).
        """
        self.use_sse = self.router.url.query_parameters.get("sse", "on") != "off"
        return self._restart(self.router.url.path.rstrip("/").rsplit("/", 1)[-1])

    @rx.event
    def start_following(self, job_id: str) -> Any:
        """Reset to a new job id and follow it."""
        return self._restart(job_id)

    def _restart(self, job_id: str) -> Any:
        self._generation += 1
        self.job_id = job_id
        self.status = self.message = self.error = self.kind = self.dataset = ""
        self.action_error = self.transport = ""
        self.result = {}
        self.progress = self.version = 0
        self.not_found = False
        if job_id:
            return self.__class__.follow

    @rx.event
    def stop_following(self) -> None:
        """Stop any follower (e.g. when the page unmounts)."""
        self._generation += 1

    @rx.event(background=True)
    async def follow(self) -> Any:
        async with self:
            generation, job_id = self._generation, self.job_id
            token = self.router.session.client_token
            options = FollowOptions(use_sse=self.use_sse, poll_interval=self.poll_interval)
            owner = await owner_of(self)
        if not job_id:
            return
        updates: asyncio.Queue[JobUpdate | Transport | BaseException | None] = asyncio.Queue()
        reader = asyncio.create_task(_read_updates(job_id, owner, options, updates))
        try:
            while True:
                try:
                    item = await asyncio.wait_for(updates.get(), WATCHDOG_SECONDS)
                except TimeoutError:
                    item = None  # nothing new: just check we are still wanted
                async with self:
                    if self._generation != generation or not tab_is_open(token):
                        return
                    if item is None:
                        if reader.done() and updates.empty():
                            return
                        continue
                    hooks = self._take(item)
                for hook in hooks:
                    yield hook
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader

    def _take(self, item: JobUpdate | Transport | BaseException) -> list[Any]:
        """Apply one item from the follower; returns the hook events to fire."""
        cls = self.__class__  # the subclass, whose hooks may be overridden
        if isinstance(item, Transport):
            self.transport = item.value
            return []
        if isinstance(item, JobNotFoundError):
            self.not_found = True
            self.transport = ""
            return [cls.on_error("Job not found")]
        if isinstance(item, BaseException):
            self.transport = Transport.OFFLINE.value
            return []
        previous = self.status
        self.status, self.progress, self.message = item.status, item.progress, item.message
        self.error = item.error or ""
        self.result = item.result or {}
        self.kind, self.dataset, self.version = item.kind, item.dataset, item.version
        if item.is_final:
            self.transport = ""
        hooks = []
        if item.status != previous:
            hooks.append(cls.on_status_change(item.status))
            if item.status == "COMPLETED":
                hooks.append(cls.on_complete(self.result))
            elif item.status == "FAILED":
                hooks.append(cls.on_error(self.error))
        return hooks

    # --- actions -------------------------------------------------------------------------

    @rx.event
    async def cancel_job(self) -> None:
        """Ask the API to cancel the followed job; the stream shows the outcome."""
        self.action_error = ""
        try:
            async with jobs_client(await owner_of(self)) as client:
                await client.cancel(self.job_id)
        except (JobsApiError, httpx.TransportError) as error:
            self.action_error = _action_failure(error)

    @rx.event
    async def retry_job(self) -> Any:
        """Run the failed or cancelled job again as a new job, and go to its page."""
        self.action_error = ""
        try:
            async with jobs_client(await owner_of(self)) as client:
                retry = await client.retry(self.job_id)
        except (JobsApiError, httpx.TransportError) as error:
            self.action_error = _action_failure(error)
            return None
        return rx.redirect(job_page_path(retry.kind, retry.job_id))


def job_page_path(kind: str, job_id: str) -> str:
    """The page that shows a job of this kind."""
    return f"/{'exports' if kind == 'EXPORT' else 'imports'}/{job_id}"


def _action_failure(error: Exception) -> str:
    if isinstance(error, JobsApiError):
        return error.message
    return "The server cannot be reached right now. Try again in a moment."


async def _read_updates(
    job_id: str,
    owner: str,
    options: FollowOptions,
    updates: asyncio.Queue[JobUpdate | Transport | BaseException | None],
) -> None:
    """Run the API client's follower, handing everything it sees to the state's loop.

    Anything but "not found" is passed on (the page shows it cannot reach the server) and the
    follower starts again after a pause, so the page keeps the promise to pick up again.
    """
    while True:
        try:
            async with jobs_client(owner) as client:
                async for item in client.follow(job_id, options):
                    await updates.put(item)
            return
        except JobNotFoundError as error:
            await updates.put(error)
            return
        except (JobsApiError, httpx.HTTPError) as error:
            log.warning("following job %s: %s; trying again", job_id, error)
            await updates.put(error)
            await asyncio.sleep(options.poll_interval)
