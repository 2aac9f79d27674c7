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
import uuid
from typing import Any

import httpx
import reflex as rx

from jobs_ui import routes
from jobs_ui.access.principal import Principal
from jobs_ui.client import (
    FollowOptions,
    JobNotFoundError,
    JobsApiError,
    JobUpdate,
    Transport,
)
from jobs_ui.jobs.commands import CommandError
from jobs_ui.models import FINAL_STATUSES
from jobs_ui.state.backend import (
    access_token,
    commands,
    following_client,
    principal_of,
    run_command,
)
from jobs_ui.state.job_news import JobNewsState
from jobs_ui.state.tending import Tending, news

log = logging.getLogger(__name__)

FINAL_STATUS_NAMES = frozenset(status.value for status in FINAL_STATUSES)
TAB_LABELS = {
    "PENDING": "Queued",
    "COMPLETED": "Done",
    "FAILED": "Failed",
    "CANCELLED": "Cancelled",
}

# The stream refused this many fresh tokens in a row: take its word that the job is gone.
MAX_REFUSED_TOKENS = 3


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
    # The pace while PROCESSING (None until the server knows it, and once the job ends).
    rows_per_second: float | None = None
    eta_seconds: int | None = None
    # Which run: more than 1 once a restart (or a lost worker) cut a run short.
    attempt: int = 0
    # An import's lineage (job ids, "" when none): see JobPublic.
    commit_of: str = ""
    undo_of: str = ""
    undone_by: str = ""
    fix_of: str = ""
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

    @rx.var
    def restart_note(self) -> str:
        """While a run after the first goes on, that the job started again by itself."""
        if self.attempt <= 1 or not self.is_active:
            return ""
        return (
            f"Started again after the server restarted (run {self.attempt}). Nothing the "
            "interrupted run did was kept, so nothing is done twice."
        )

    @rx.var
    def eta_text(self) -> str:
        """Time left in words ("about 40 s left") while it runs and it is known; else ""."""
        return time_left(self.eta_seconds) if self.status == "PROCESSING" else ""

    @rx.var
    def tab_label(self) -> str:
        """The job in a word for the browser tab's title, so a tab in the background says
        how far it is: "42%" while it runs, "Queued", "Done", "Failed", "Cancelled"."""
        if self.status == "PROCESSING":
            return f"{self.progress}%"
        return TAB_LABELS.get(self.status, "")

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
        self.commit_of = self.undo_of = self.undone_by = self.fix_of = ""
        self.result = {}
        self.progress = self.version = self.attempt = 0
        self.rows_per_second = self.eta_seconds = None
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
            tending = Tending.begin(self)
            job_id = self.job_id
            options = FollowOptions(use_sse=self.use_sse, poll_interval=self.poll_interval)
            try:
                principal = await principal_of(self)
            except CommandError as error:
                self.not_found, self.action_error = True, error.message
                return
        if not job_id:
            return
        updates: asyncio.Queue[JobUpdate | Transport | BaseException] = asyncio.Queue()
        reader = asyncio.create_task(read_updates(job_id, principal, options, updates))
        try:
            while True:
                items = await news(updates)
                async with self:
                    if not tending.wanted(self):
                        return
                    if not items and reader.done() and updates.empty():
                        return  # the reader has said all it will
                    hooks = [hook for item in items for hook in self._take(item)]
                    if self.status in FINAL_STATUS_NAMES:
                        # Shown here: not news to the tab's navbar, whichever page it is on
                        # when it hears of it.
                        navbar = await self.get_state(JobNewsState)
                        navbar._shown(self.job_id)
                for hook in hooks:
                    yield hook
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader

    def _take(self, item: JobUpdate | Transport | BaseException) -> list[Any]:
        """Apply one item from the follower; returns the hook events to fire."""
        # The subclass, whose hooks may be overridden. (Any: mypy reads a handler made by
        # rx.event, whose __new__ returns a callback, as an instance of rx.event's class.)
        cls: Any = self.__class__
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
        self.rows_per_second, self.eta_seconds = item.rows_per_second, item.eta_seconds
        self.attempt = item.attempt
        self.commit_of, self.undo_of = item.commit_of or "", item.undo_of or ""
        self.undone_by, self.fix_of = item.undone_by or "", item.fix_of or ""
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
        """Cancel the followed job; the stream shows the outcome."""
        self.action_error = ""
        try:
            principal = await principal_of(self)
            await run_command(commands().cancel, principal, job_uuid(self.job_id))
        except CommandError as error:
            self.action_error = error.message

    @rx.event
    async def retry_job(self) -> Any:
        """Run the failed or cancelled job again as a new job, and go to its page."""
        self.action_error = ""
        try:
            principal = await principal_of(self)
            created = await run_command(commands().retry, principal, job_uuid(self.job_id))
        except CommandError as error:
            self.action_error = error.message
            return None
        return rx.redirect(routes.job_page(created.job.kind.value, str(created.job.id)))


def time_left(seconds: int | None) -> str:
    """A job's time left as a person would say it: "about 40 s left", "about 3 min left",
    "about 1 h 20 min left"; "" when not known. Rounded (5 s, then whole minutes), since an
    estimate that ticks every second claims more than it knows."""
    if seconds is None or seconds < 0:
        return ""
    if seconds < 10:
        return "a few seconds left"
    rounded = _half_up(seconds, 5)
    if rounded < 60:
        return f"about {rounded} s left"
    minutes = _half_up(seconds, 60) // 60
    if minutes < 60:
        return f"about {minutes} min left"
    hours, minutes = divmod(minutes, 60)
    return f"about {hours} h {minutes} min left" if minutes else f"about {hours} h left"


def _half_up(value: int, step: int) -> int:
    """`value` to the nearest multiple of `step`, halves up (round() would go to even)."""
    return (value + step // 2) // step * step


def job_uuid(job_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(job_id)
    except ValueError:
        raise CommandError(404, "Job not found") from None


async def read_updates(
    job_id: str,
    principal: Principal,
    options: FollowOptions,
    updates: asyncio.Queue[Any],
) -> None:
    """Follow one job over the app's SSE route with a fresh access token, handing everything
    the API client sees to a state's loop.

    Whether the job is the principal's is decided in-process as the token is minted: "not
    found" there is final. When the stream refuses a token (it lapsed during a reconnect)
    a fresh one is minted. Anything else is passed on (the page shows it cannot reach the
    server) and following starts again after a pause, so the page picks up again.
    """
    refused = 0
    while True:
        try:
            token = await access_token(principal, job_id)
        except CommandError as error:
            if error.status == 404:
                await updates.put(JobNotFoundError(error.message))
                return
            await updates.put(error)
            await asyncio.sleep(options.poll_interval)
            continue
        try:
            async with following_client(token) as client:
                async for item in client.follow(job_id, options):
                    refused = 0
                    await updates.put(item)
            return
        except JobsApiError as error:
            # Not found or not authorised by the stream or the poll, right after the mint
            # said yes: the token lapsed in between. Try a fresh one, a few times.
            if error.status_code in (401, 404):
                refused += 1
                if refused < MAX_REFUSED_TOKENS:
                    continue
                await updates.put(JobNotFoundError(error.message))
                return
            log.warning("following job %s: %s; trying again", job_id, error)
            await updates.put(error)
            await asyncio.sleep(options.poll_interval)
        except httpx.HTTPError as error:
            log.warning("following job %s: %s; trying again", job_id, error)
            await updates.put(error)
            await asyncio.sleep(options.poll_interval)
