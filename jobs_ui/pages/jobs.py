"""/jobs: the visitor's recent jobs, with live status and progress for those still running."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Sequence
from typing import Any

import reflex as rx

from jobs_ui import routes
from jobs_ui.access.principal import Principal
from jobs_ui.client import FollowOptions, JobUpdate
from jobs_ui.components.layout import page
from jobs_ui.components.status_badge import status_badge
from jobs_ui.jobs.commands import CommandError
from jobs_ui.jobs.outcome_text import kind_label
from jobs_ui.models import Job, iso_utc, utc_now
from jobs_ui.state.backend import commands, principal_of, run_command
from jobs_ui.state.job_news import news_feed
from jobs_ui.state.job_status import read_updates
from jobs_ui.state.tending import Tending, news

LIST_REFRESH_SECONDS = 10.0


@dataclasses.dataclass
class JobRow:
    job_id: str
    kind: str
    dataset: str
    status: str
    progress: int
    message: str
    created_at: str
    href: str


def _row(job: Job) -> JobRow:
    return JobRow(
        job_id=str(job.id),
        kind=kind_label(job),
        dataset=job.dataset,
        status=job.status.value,
        progress=job.progress,
        message=job.message,
        created_at=f"{(iso_utc(job.created_at) or '')[:16].replace('T', ' ')} UTC",
        href=routes.job_page(job.kind.value, str(job.id)),
    )


class JobsListState(rx.State):
    rows: rx.Field[list[JobRow]] = rx.field(default_factory=list)
    loaded: bool = False
    list_error: str = ""
    _generation: int = 0

    @rx.event
    def open_list(self) -> Any:
        self._generation += 1
        return JobsListState.watch

    @rx.event(background=True)
    async def watch(self) -> Any:
        """Keep the list fresh: re-list now and then, follow running jobs live (SSE)."""
        async with self:
            tending = Tending.begin(self)
            try:
                principal = await principal_of(self)
            except CommandError as error:
                self.list_error, self.loaded = error.message, True
                return
        updates: asyncio.Queue[Any] = asyncio.Queue()
        followers: dict[str, asyncio.Task[None]] = {}
        hearing = asyncio.create_task(hear_of_jobs(principal, updates))
        loop = asyncio.get_running_loop()
        next_listing = 0.0
        listed: set[str] = set()
        try:
            while True:
                listing: Sequence[Job] | None = None
                listing_error = ""
                if loop.time() >= next_listing:
                    next_listing = loop.time() + LIST_REFRESH_SECONDS
                    try:
                        page = await run_command(commands().list_jobs, principal)
                        listing = page.jobs
                    except CommandError:
                        listing_error = "Your jobs cannot be loaded right now. Retrying…"
                items = await news(updates)
                # A job the list does not hold yet (started in another tab, or by the API):
                # list again now rather than at the next refresh.
                heard = set().union(*(item for item in items if isinstance(item, JobsHeardOf)))
                if heard - listed:
                    next_listing = 0.0
                    listed |= heard  # once: a job past the list's first page stays unlisted
                # The followers' other news (a change of transport) is not shown in a list.
                changes = [item for item in items if isinstance(item, JobUpdate)]
                async with self:
                    if not tending.wanted(self):
                        return
                    self.list_error = listing_error
                    if listing is not None:
                        self.rows = [_row(job) for job in listing]
                        self.loaded = True
                        listed = {row.job_id for row in self.rows}
                    self._apply(changes)
                    active = [
                        row.job_id for row in self.rows if row.status in ("PENDING", "PROCESSING")
                    ]
                for job_id in active:
                    if job_id not in followers or followers[job_id].done():
                        followers[job_id] = asyncio.create_task(
                            read_updates(job_id, principal, FollowOptions(), updates)
                        )
        finally:
            tasks = [hearing, *followers.values()]
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    def _apply(self, changes: list[JobUpdate]) -> None:
        if not changes:
            return
        latest = {update.job_id: update for update in changes}
        self.rows = [
            dataclasses.replace(
                row,
                status=latest[row.job_id].status,
                progress=latest[row.job_id].progress,
                message=latest[row.job_id].message,
            )
            if row.job_id in latest
            else row
            for row in self.rows
        ]


class JobsHeardOf(frozenset[str]):
    """The ids of the visitor's running and just-ended jobs, from the pages' news feed."""


async def hear_of_jobs(principal: Principal, updates: asyncio.Queue[Any]) -> None:
    """Hand the list every reading of the visitor's jobs the news feed makes."""
    async with news_feed().subscribe(principal, since=utc_now()) as subscription:
        while True:
            jobs = await subscription.next(LIST_REFRESH_SECONDS)
            if jobs is not None:
                await updates.put(JobsHeardOf(str(job.id) for job in jobs))


def jobs_table() -> rx.Component:
    return rx.table.root(
        rx.table.header(
            rx.table.row(
                rx.table.column_header_cell("Job"),
                rx.table.column_header_cell("Status"),
                rx.table.column_header_cell("Progress", min_width="10rem"),
                rx.table.column_header_cell("Started"),
            )
        ),
        rx.table.body(
            rx.foreach(
                JobsListState.rows,
                lambda row: rx.table.row(
                    rx.table.cell(
                        rx.link(f"{row.kind} · {row.dataset}", href=row.href, weight="medium"),
                        rx.text(row.message, size="1", color_scheme="gray"),
                    ),
                    rx.table.cell(status_badge(row.status)),
                    rx.table.cell(
                        rx.hstack(
                            rx.progress(
                                value=row.progress,
                                max=100,
                                width="100%",
                                aria_label=f"Progress of {row.kind} {row.dataset}",
                            ),
                            rx.text(f"{row.progress}%", size="1"),
                            align="center",
                        )
                    ),
                    rx.table.cell(rx.text(row.created_at, size="1", color_scheme="gray")),
                    data_testid="job-row",
                ),
            )
        ),
        variant="surface",
        width="100%",
    )


def jobs_page() -> rx.Component:
    return page(
        rx.cond(
            JobsListState.list_error != "",
            rx.callout(JobsListState.list_error, icon="wifi_off", color_scheme="amber"),
        ),
        rx.cond(
            JobsListState.loaded & (JobsListState.rows.length() == 0),
            rx.callout(
                "No jobs yet. Start an import or an export and it will show up here.",
                icon="info",
                data_testid="no-jobs",
            ),
            # On a narrow screen the table scrolls sideways rather than squeezing its cells.
            rx.box(jobs_table(), width="100%", overflow_x="auto"),
        ),
        heading="Your jobs",
        lead="Imports and exports you started from this browser, newest first.",
    )
