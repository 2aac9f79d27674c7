"""The news command: each principal hears of its own jobs only, running or just ended."""

from __future__ import annotations

import uuid
from datetime import timedelta

from jobs_ui.access.principal import ADMIN_SCOPE, Principal, Via
from jobs_ui.models import JobKind, JobStatus, utc_now


def new_export(services, owner: str) -> uuid.UUID:
    job = services.store.create(kind=JobKind.EXPORT, dataset="contacts", owner=owner, params={})
    return job.id


def ids(jobs) -> set[uuid.UUID]:
    return {job.id for job in jobs}


def test_each_principal_hears_of_its_own_running_and_newly_ended_jobs(services):
    before = utc_now() - timedelta(seconds=1)
    ann_waiting, ann_ended, bob_running = (
        new_export(services, "ann"),
        new_export(services, "ann"),
        new_export(services, "bob"),
    )
    services.store.start(ann_ended)
    services.store.complete(ann_ended, result={"rowCount": 0}, message="Exported 0 rows")
    services.store.start(bob_running)

    news = services.commands.news(
        [Principal(subject="ann"), Principal(subject="bob"), Principal(subject="ann")],
        ended_after=before,
    )
    assert set(news) == {"ann", "bob"}
    assert ids(news["ann"]) == {ann_waiting, ann_ended}
    assert ids(news["bob"]) == {bob_running}
    assert {job.status for job in news["ann"]} == {JobStatus.PENDING, JobStatus.COMPLETED}


def test_jobs_that_ended_before_the_horizon_are_not_news(services):
    job_id = new_export(services, "ann")
    services.store.start(job_id)
    services.store.complete(job_id, result={"rowCount": 0}, message="Exported 0 rows")
    later = utc_now() + timedelta(seconds=1)
    assert services.commands.news([Principal(subject="ann")], ended_after=later) == {"ann": []}


def test_another_principal_an_admin_and_a_job_token_hear_nothing_of_anns_jobs(services):
    job_id = new_export(services, "ann")
    horizon = utc_now() - timedelta(minutes=1)
    stranger = Principal(subject="mallory")
    admin = Principal(subject="root", scopes=frozenset({ADMIN_SCOPE}))
    token = Principal(subject="ann", via=Via.JOB_TOKEN, job_id=job_id)
    news = services.commands.news([stranger, admin, token], ended_after=horizon)
    assert news == {"mallory": [], "root": []}  # a job token is no one's page
