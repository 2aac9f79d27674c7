"""Retries: about 1 s, 4 s, 16 s, growing to an hour between tries, given up after 24 h."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from jobs_ui.settings import Settings
from jobs_ui.webhooks.loop import schedule_of
from jobs_ui.webhooks.schedule import RetrySchedule

START = datetime(2026, 1, 1, tzinfo=UTC)


def tries(schedule: RetrySchedule) -> list[datetime]:
    """When each try happens, each failing, until the schedule gives up."""
    at, made = START, [START]
    while (at := schedule.next_attempt(attempts=len(made), created_at=START, now=at)) is not None:
        made.append(at)
    return made


def test_the_default_waits_grow_fourfold_to_an_hour():
    schedule = RetrySchedule()
    waits = [schedule.wait_after(n).total_seconds() for n in range(1, 10)]
    assert waits == [1, 4, 16, 64, 256, 1024, 3600, 3600, 3600]
    assert schedule.wait_after(10_000) == timedelta(hours=1)  # no overflow, ever


def test_the_default_gives_up_after_24_hours():
    made = tries(RetrySchedule())
    gaps = [later - earlier for earlier, later in itertools.pairwise(made)]
    assert made[-1] - START < timedelta(hours=24) <= made[-1] - START + timedelta(hours=1)
    assert max(gaps) == timedelta(hours=1) and len(made) == 30


def test_the_settings_make_the_schedule():
    settings = Settings(
        JOBS_UI_WEBHOOK_RETRY_SECONDS="0.5",
        JOBS_UI_WEBHOOK_RETRY_MAX_SECONDS="3",
        JOBS_UI_WEBHOOK_GIVE_UP_SECONDS="10",
    )
    schedule = schedule_of(settings)
    assert [schedule.wait_after(n).total_seconds() for n in (1, 2, 3)] == [0.5, 2, 3]
    assert tries(schedule)[-1] - START < timedelta(seconds=10)
