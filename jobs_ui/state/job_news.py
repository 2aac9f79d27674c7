"""The news on whatever page a visitor is on: a toast when one of their jobs ends (with a
link to it, and an export's download), and the count of their jobs still running, shown in
the navbar. Every tab of the visitor hears it, whichever page it shows."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from datetime import datetime
from typing import TYPE_CHECKING, Any

import reflex as rx
from reflex.event import EventSpec

from jobs_ui import routes
from jobs_ui.access.principal import Principal
from jobs_ui.jobs.commands import CommandError
from jobs_ui.jobs.outcome_text import kind_label
from jobs_ui.models import FINAL_STATUSES, Job, JobKind, JobStatus, public_result, utc_now
from jobs_ui.schemas import as_utc
from jobs_ui.state.backend import (
    commands,
    download_in_browser,
    principal_of,
    run_command,
    services,
    tab_is_open,
)
from jobs_ui.state.news_feed import NewsFeed, NewsSubscription
from jobs_ui.state.tending import WATCHDOG_SECONDS, Tending

if TYPE_CHECKING:
    from jobs_ui.services import Services

# How many ended jobs a tab remembers having told of (so each is told once).
TOLD_KEPT = 200
TOAST_MILLISECONDS = 12_000

_feed: tuple[Services, NewsFeed] | None = None
# Each tab's newest listener (client token → its generation), so an older one (the tab went
# to another page, whose navbar listens anew) can tell it should stop without a lock.
_listening: dict[str, int] = {}


def news_feed() -> NewsFeed:
    """This process's one feed of the pages' news (made on first use, for the app's
    services)."""
    global _feed
    app_services = services()
    if _feed is None or _feed[0] is not app_services:

        async def read(principals: Collection[Principal], ended_after: datetime) -> Any:
            return await run_command(commands().news, principals, ended_after=ended_after)

        _feed = (app_services, NewsFeed(read, app_services.hub))
    return _feed[1]


class JobNewsState(rx.State):
    running: int = 0
    # When this tab began to hear news: jobs that ended before are not news to it.
    _since: datetime | None = None
    _told: list[str] = []
    _generation: int = 0

    @rx.var
    def running_text(self) -> str:
        return "1 job running" if self.running == 1 else f"{self.running} jobs running"

    @rx.event
    def open_news(self) -> Any:
        """`on_mount` of every page's navbar: hear the visitor's news while it is open."""
        self._generation += 1
        return JobNewsState.listen

    @rx.event(background=True)
    async def listen(self) -> Any:
        async with self:
            tending = Tending.begin(self)
            _listening[tending.client_token] = tending.generation
            if self._since is None:
                self._since = utc_now()
            since = self._since
            try:
                principal: Principal | None = await principal_of(self)
            except CommandError:
                principal = None  # no visitor yet (cookies refused): nothing of theirs to tell
        try:
            if principal is None:
                return
            async with news_feed().subscribe(principal, since=since) as subscription:
                async for toasts in self._news(subscription, tending):
                    for toast in toasts:
                        yield toast
        finally:
            if _listening.get(tending.client_token) == tending.generation:
                del _listening[tending.client_token]

    async def _news(
        self, subscription: NewsSubscription, tending: Tending
    ) -> AsyncIterator[list[EventSpec]]:
        """The toasts of each new reading, while this is the tab's newest listener and the
        tab is open. Checked without the state's lock: most seconds bring no news, and
        every page of every tab listens."""
        while True:
            jobs = await subscription.next(WATCHDOG_SECONDS)
            newest = _listening.get(tending.client_token) == tending.generation
            if not newest or not tab_is_open(tending.client_token):
                return
            if jobs is None:
                continue
            async with self:
                if not tending.wanted(self):
                    return
                here = self.router.url.path.rstrip("/")
                toasts = self._take(jobs, since=subscription.since, here=here)
            yield toasts

    def _shown(self, job_id: str) -> None:
        """The tab showed this job's end on the job's own page: it is no news to it."""
        if job_id not in self._told:
            self._told = [*self._told, job_id][-TOLD_KEPT:]

    def _take(self, jobs: list[Job], *, since: datetime, here: str) -> list[EventSpec]:
        """Count the running jobs; return a toast for each that ended since the tab began
        and was not told yet (nor is the page it is on)."""
        self.running = sum(job.status not in FINAL_STATUSES for job in jobs)
        ended = newly_ended(jobs, since=since, told=set(self._told))
        if not ended:
            return []
        self._told = [*self._told, *(str(job.id) for job in ended)][-TOLD_KEPT:]
        # A page whose path ends with the job's id is that job's own (an extension's too):
        # it shows the end itself.
        return [job_end_toast(job) for job in ended if not here.endswith(f"/{job.id}")]


def newly_ended(jobs: list[Job], *, since: datetime, told: set[str]) -> list[Job]:
    """Of `jobs`, those that ended after `since` and were not told of, as they ended."""
    ended = [
        (as_utc(job.finished_at), job)
        for job in jobs
        if job.finished_at is not None and str(job.id) not in told
    ]
    return [job for moment, job in sorted(ended, key=lambda pair: pair[0]) if moment > since]


def job_end_toast(job: Job) -> EventSpec:
    """ "Export of companies completed", what it did, and buttons to open the job (and, for
    a completed export, to download its file)."""
    href = routes.job_page(job.kind.value, str(job.id))
    name = f"{kind_label(job)} of {job.dataset}"
    open_job = {"label": "Open", "on_click": rx.redirect(href)}
    common: dict[str, Any] = {
        "id": f"job-end-{job.id}",  # told twice (two readings racing): shown once
        "duration": TOAST_MILLISECONDS,
        "close_button": True,
    }
    if job.status is JobStatus.FAILED:
        return rx.toast.error(
            f"{name} failed", description=job.error or job.message, action=open_job, **common
        )
    if job.status is JobStatus.CANCELLED:
        return rx.toast.info(
            f"{name} was cancelled", description=job.message, action=open_job, **common
        )
    file_url = (public_result(job) or {}).get("fileUrl")
    if job.kind is JobKind.EXPORT and file_url:
        download = {"label": "Download", "on_click": download_in_browser(str(file_url))}
        return rx.toast.success(
            f"{name} completed",
            description=job.message,
            action=download,
            cancel=open_job,
            **common,
        )
    return rx.toast.success(f"{name} completed", description=job.message, action=open_job, **common)
