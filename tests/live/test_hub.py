"""The fan-out hub: one read per change, wake every watcher, survive lost notifications."""

from __future__ import annotations

import asyncio
import threading
import uuid
from dataclasses import dataclass

from jobs_ui.live.hub import JobFeedHub


@dataclass(frozen=True)
class Snap:
    version: int


class FakeRows:
    """Stands in for the job table: a version per job, counting reads."""

    def __init__(self) -> None:
        self.versions: dict[uuid.UUID, int] = {}
        self.reads = 0

    def load(self, job_id: uuid.UUID) -> Snap | None:
        self.reads += 1
        version = self.versions.get(job_id)
        return Snap(version) if version is not None else None


async def test_one_read_per_change_for_many_watchers():
    rows, job_id = FakeRows(), uuid.uuid4()
    rows.versions[job_id] = 1
    hub = JobFeedHub(rows.load, reread_interval=60)
    async with hub.subscribe(job_id) as first:
        watchers = [hub.subscribe(job_id) for _ in range(50)]
        subs = [await w.__aenter__() for w in watchers]
        assert rows.reads == 1 and first.current == Snap(1)
        rows.versions[job_id] = 2
        hub.notify(job_id, 2)
        got = await asyncio.gather(*(asyncio.wait_for(s.next_after(1), 2) for s in [first, *subs]))
        assert all(snap == Snap(2) for snap in got)
        assert rows.reads == 2
        for w in watchers:
            await w.__aexit__(None, None, None)
    assert hub.watched_jobs == 0


async def test_notify_from_another_thread_wakes_the_watcher():
    rows, job_id = FakeRows(), uuid.uuid4()
    rows.versions[job_id] = 1
    hub = JobFeedHub(rows.load, reread_interval=60)
    async with hub.subscribe(job_id) as sub:
        rows.versions[job_id] = 5
        threading.Thread(target=hub.notify, args=(job_id, 5)).start()
        assert await asyncio.wait_for(sub.next_after(1), 2) == Snap(5)


async def test_stale_or_duplicate_notifications_cost_no_read():
    rows, job_id = FakeRows(), uuid.uuid4()
    rows.versions[job_id] = 3
    hub = JobFeedHub(rows.load, reread_interval=60)
    async with hub.subscribe(job_id):
        hub.notify(job_id, 2)
        hub.notify(job_id, 3)
        await asyncio.sleep(0.05)
        assert rows.reads == 1


async def test_a_lost_notification_is_caught_by_the_periodic_reread():
    rows, job_id = FakeRows(), uuid.uuid4()
    rows.versions[job_id] = 1
    hub = JobFeedHub(rows.load, reread_interval=0.05)
    async with hub.subscribe(job_id) as sub:
        rows.versions[job_id] = 2  # changed, but nobody notifies
        assert await asyncio.wait_for(sub.next_after(1), 2) == Snap(2)


async def test_next_after_gives_none_at_the_heartbeat_tick_when_nothing_changes():
    rows, job_id = FakeRows(), uuid.uuid4()
    rows.versions[job_id] = 1
    hub = JobFeedHub(rows.load, reread_interval=60, heartbeat_interval=0.05)
    async with hub.subscribe(job_id) as sub, hub.subscribe(uuid.uuid4()) as other:
        began = asyncio.get_running_loop().time()
        ticks = await asyncio.wait_for(asyncio.gather(sub.next_after(1), other.next_after(0)), 2)
        assert ticks == [None, None]  # one tick wakes the streams of every job
        assert asyncio.get_running_loop().time() - began >= 0.04


async def test_a_change_wakes_only_its_own_job_and_the_ticker_stops_when_idle():
    rows, job_id, other_id = FakeRows(), uuid.uuid4(), uuid.uuid4()
    rows.versions[job_id] = rows.versions[other_id] = 1
    hub = JobFeedHub(rows.load, reread_interval=60, heartbeat_interval=60)
    async with hub.subscribe(job_id) as sub, hub.subscribe(other_id) as other:
        waiting = asyncio.ensure_future(other.next_after(1))
        rows.versions[job_id] = 2
        hub.notify(job_id, 2)
        assert await asyncio.wait_for(sub.next_after(1), 2) == Snap(2)
        await asyncio.sleep(0.05)
        assert not waiting.done()
        waiting.cancel()
    assert hub._ticker is None


async def test_a_subscriber_right_after_the_last_one_left_still_gets_heartbeats():
    rows, job_id = FakeRows(), uuid.uuid4()
    rows.versions[job_id] = 1
    hub = JobFeedHub(rows.load, reread_interval=60, heartbeat_interval=0.05)
    async with hub.subscribe(job_id):
        pass  # the last subscriber leaves: the ticker is cancelled...
    async with hub.subscribe(job_id) as sub:  # ...and someone subscribes in the same turn
        assert await asyncio.wait_for(sub.next_after(1), 2) is None  # a heartbeat tick came


async def test_unknown_job_has_no_current_snapshot():
    hub = JobFeedHub(FakeRows().load, reread_interval=60)
    async with hub.subscribe(uuid.uuid4()) as sub:
        assert sub.current is None
