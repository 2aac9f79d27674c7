"""The pages' news feed: one read serves every open tab, a change is read at once, a burst
of changes is read once, and a failing read keeps the feed going."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Collection
from datetime import datetime

import pytest

from jobs_ui.access.principal import Principal
from jobs_ui.live.hub import JobFeedHub
from jobs_ui.models import Job, JobKind, utc_now
from jobs_ui.state.news_feed import NewsFeed


class Jobs:
    """Stands in for the job table: each owner's jobs, counting reads."""

    def __init__(self) -> None:
        self.by_owner: dict[str, list[Job]] = {}
        self.reads: list[set[str]] = []
        self.fail_next = False

    def add(self, owner: str) -> Job:
        job = Job(id=uuid.uuid4(), kind=JobKind.EXPORT, dataset="contacts", owner=owner)
        self.by_owner.setdefault(owner, []).append(job)
        return job

    async def read(
        self, principals: Collection[Principal], ended_after: datetime
    ) -> dict[str, list[Job]]:
        self.reads.append({p.subject for p in principals})
        if self.fail_next:
            self.fail_next = False
            raise ConnectionError("the database went away")
        return {p.subject: list(self.by_owner.get(p.subject, [])) for p in principals}


def hub() -> JobFeedHub:
    return JobFeedHub(lambda _job_id: None)


async def test_one_read_serves_every_tab_each_with_its_own_jobs():
    jobs, changes = Jobs(), hub()
    anns, bobs = jobs.add("ann"), jobs.add("bob")
    feed = NewsFeed(jobs.read, changes, quiet_seconds=60, min_gap=0)
    since = utc_now()
    async with (
        feed.subscribe(Principal(subject="ann"), since=since) as ann_tab,
        feed.subscribe(Principal(subject="ann"), since=since) as ann_other_tab,
        feed.subscribe(Principal(subject="bob"), since=since) as bob_tab,
    ):
        assert [job.id for job in await ann_tab.next(2)] == [anns.id]
        assert [job.id for job in await ann_other_tab.next(2)] == [anns.id]
        assert [job.id for job in await bob_tab.next(2)] == [bobs.id]
        assert len(jobs.reads) <= 3  # one per tab's arrival at most, never one per tab per change
        reads_before = len(jobs.reads)
        anns.version = 2
        changes.notify(anns.id, 2)
        assert [job.version for job in await ann_tab.next(2)] == [2]
        assert await bob_tab.next(0.2) is None  # nothing new of bob's
        assert len(jobs.reads) == reads_before + 1
        assert jobs.reads[-1] == {"ann", "bob"}


async def test_a_change_is_read_at_once_and_a_burst_of_them_once():
    jobs, changes = Jobs(), hub()
    job = jobs.add("ann")
    feed = NewsFeed(jobs.read, changes, quiet_seconds=60, min_gap=0.5)
    async with feed.subscribe(Principal(subject="ann"), since=utc_now()) as tab:
        await tab.next(2)
        await asyncio.sleep(0.55)  # past the first read's gap
        reads_before = len(jobs.reads)
        for version in range(2, 40):
            job.version = version
            changes.notify(job.id, version)
        assert await tab.next(0.2) is not None  # read right away, not after a quiet spell
        assert len(jobs.reads) == reads_before + 1, "the burst was read more than once"
        job.version = 40
        changes.notify(job.id, 40)  # within the gap after that read: read once it is over
        assert await tab.next(0.2) is None
        assert await tab.next(1) is not None
        assert len(jobs.reads) == reads_before + 2


async def test_a_change_no_notification_told_of_is_read_after_the_quiet_interval():
    jobs, changes = Jobs(), hub()
    job = jobs.add("ann")
    feed = NewsFeed(jobs.read, changes, quiet_seconds=0.2, min_gap=0)
    async with feed.subscribe(Principal(subject="ann"), since=utc_now()) as tab:
        await tab.next(2)
        job.version = 2
        assert await tab.next(0.1) is None
        assert [j.version for j in await tab.next(1)] == [2]


async def test_a_reading_that_says_nothing_new_is_not_handed_to_the_tab():
    jobs, changes = Jobs(), hub()
    job = jobs.add("ann")
    feed = NewsFeed(jobs.read, changes, quiet_seconds=0.05, min_gap=0)
    async with feed.subscribe(Principal(subject="ann"), since=utc_now()) as tab:
        await tab.next(2)
        assert await tab.next(0.4) is None
        assert len(jobs.reads) >= 3  # it did read, and found nothing new
        changes.notify(job.id, 1)  # a notification of what the tab already has: still nothing
        assert await tab.next(0.2) is None


async def test_a_failed_read_leaves_the_feed_reading():
    jobs, changes = Jobs(), hub()
    job = jobs.add("ann")
    feed = NewsFeed(jobs.read, changes, quiet_seconds=60, min_gap=0)
    jobs.fail_next = True
    async with feed.subscribe(Principal(subject="ann"), since=utc_now()) as tab:
        assert await tab.next(0.3) is None  # the first read failed: nothing handed out
        changes.notify(job.id, 1)
        assert [j.id for j in await tab.next(2)] == [job.id]


async def test_the_reader_stops_when_the_last_tab_leaves():
    jobs, changes = Jobs(), hub()
    feed = NewsFeed(jobs.read, changes, quiet_seconds=0.05, min_gap=0)
    async with feed.subscribe(Principal(subject="ann"), since=utc_now()) as tab:
        await tab.next(2)
    assert feed.subscribers == 0
    await asyncio.sleep(0.2)
    reads = len(jobs.reads)
    await asyncio.sleep(0.3)
    assert len(jobs.reads) == reads


@pytest.mark.parametrize("after_change", [False, True])
async def test_the_hub_tells_of_a_change_of_a_job_no_stream_watches(after_change):
    changes = hub()
    seen = changes.changes
    waiting = asyncio.create_task(changes.next_change(after=seen))
    await asyncio.sleep(0.05)
    if after_change:
        changes.notify(uuid.uuid4(), 1)
        await asyncio.wait_for(waiting, 1)
        assert changes.changes == seen + 1
    else:
        await asyncio.sleep(0.1)
        assert not waiting.done()
        waiting.cancel()
