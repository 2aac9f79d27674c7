"""The REST side: job JSON, listing, lookups, cancel, and recovery after a restart."""

from __future__ import annotations

import time
import uuid

import pytest

from jobs_ui.jobs.store import INTERRUPTED_ERROR
from jobs_ui.models import JobKind, JobStatus
from jobs_ui.services import Services
from tests.support.jobs import start_export, wait_for_end

JOB_FIELDS = {
    "jobId", "kind", "dataset", "status", "progress", "message", "error", "result",
    "createdAt", "updatedAt", "attempt",
}  # fmt: skip


def test_job_json_has_the_polling_fields(client):
    created = start_export(client)
    assert set(created) >= JOB_FIELDS
    assert created["status"] == "PENDING" and created["kind"] == "EXPORT"
    assert created["attempt"] == 1
    job = wait_for_end(client, created["jobId"])
    assert job["status"] == "COMPLETED" and job["progress"] == 100
    assert job["createdAt"].endswith("Z") and job["updatedAt"] >= job["createdAt"]


def test_list_shows_the_callers_jobs_newest_first(client, visitor):
    mine = [start_export(client, search=str(n))["jobId"] for n in range(3)]
    theirs = start_export(visitor, dataset="products")["jobId"]
    listed = client.get("/api/import-export/jobs").json()
    assert [job["jobId"] for job in listed["jobs"]] == mine[::-1]
    assert listed["nextCursor"] is None
    assert [job["jobId"] for job in visitor.get("/api/import-export/jobs").json()["jobs"]] == [
        theirs
    ]
    # A header the caller writes itself decides nothing, whatever it says.
    for forged in ("t", "bad owner!"):
        response = visitor.get("/api/import-export/jobs", headers={"X-Owner-Id": forged})
        assert [job["jobId"] for job in response.json()["jobs"]] == [theirs]


def test_unknown_and_malformed_job_ids(client):
    response = client.get(f"/api/import-export/jobs/{uuid.uuid4()}")
    assert response.status_code == 404 and response.json()["error"] == "Job not found"
    response = client.get("/api/import-export/jobs/12345")
    assert response.status_code == 400 and "not a valid job id" in response.json()["error"]
    assert client.post(f"/api/import-export/jobs/{uuid.uuid4()}/cancel").status_code == 404


def test_cancel_a_pending_job_at_once(client, services):
    job = services.store.create(kind=JobKind.EXPORT, dataset="contacts", owner="t", params={})
    response = client.post(f"/api/import-export/jobs/{job.id}/cancel")
    assert response.status_code == 200 and response.json()["status"] == "CANCELLED"
    again = client.post(f"/api/import-export/jobs/{job.id}/cancel")
    assert again.status_code == 409


@pytest.mark.parametrize("settings", ["embedded"], indirect=True)
def test_restart_runs_interrupted_jobs_again_and_pending_ones(settings):
    first = Services.from_settings(settings)
    first.start()
    store = first.store
    interrupted = store.create(
        kind=JobKind.EXPORT, dataset="contacts", owner="t", params={"format": "csv"}
    )
    store.start(interrupted.id)
    waiting = store.create(
        kind=JobKind.EXPORT, dataset="contacts", owner="t", params={"format": "csv"}
    )
    first.stop()  # as if the process died: one job PROCESSING, one never picked up

    second = Services.from_settings(settings)
    second.start()
    try:
        for job_id, runs in ((interrupted.id, 2), (waiting.id, 1)):
            deadline = time.monotonic() + 10
            while (job := second.store.get(job_id)).status is not JobStatus.COMPLETED:
                assert time.monotonic() < deadline, f"{job_id} was not run after the restart"
                time.sleep(0.02)
            assert job.attempt == runs
    finally:
        second.stop()


@pytest.mark.parametrize("settings", ["embedded"], indirect=True)
def test_restart_fails_interrupted_jobs_whose_runs_are_spent(settings):
    settings = settings.model_copy(update={"max_attempts": 1})
    first = Services.from_settings(settings)
    first.start()
    interrupted = first.store.create(
        kind=JobKind.EXPORT, dataset="contacts", owner="t", params={"format": "csv"}
    )
    first.store.start(interrupted.id)
    first.stop()

    second = Services.from_settings(settings)
    second.start()
    try:
        job = second.store.get(interrupted.id)
        assert (job.status, job.error) == (JobStatus.FAILED, INTERRUPTED_ERROR)
    finally:
        second.stop()


def test_unknown_paths_and_methods_under_the_api_answer_json(client):
    response = client.post("/api/import-export/jobs/ws")
    assert response.status_code == 405 and "not allowed" in response.json()["error"]
    response = client.get(f"/api/import-export/jobs/{uuid.uuid4()}/nothing")
    assert response.status_code == 404 and "no API route" in response.json()["error"]
    response = client.delete(f"/api/import-export/jobs/{uuid.uuid4()}")
    assert response.status_code == 405
    assert client.get("/api/import-export/jobs/").json() == {"jobs": [], "nextCursor": None}


def test_request_body_errors_read_as_sentences(client):
    url = "/api/import-export/jobs/export"
    response = client.post(url, content=b"{nope", headers={"content-type": "application/json"})
    assert response.json()["error"] == "The request body is not valid JSON."
    response = client.post(url)
    assert response.json()["error"] == "Send a JSON object as the request body."


def test_the_list_pages_with_a_cursor_and_filters(client, services):
    made = [
        services.store.create(kind=kind, dataset="contacts", owner="t", params={}).id
        for kind in (JobKind.EXPORT, JobKind.IMPORT, JobKind.EXPORT, JobKind.EXPORT)
    ]
    services.store.start(made[2])
    url = "/api/import-export/jobs"
    first = client.get(url, params={"limit": 3}).json()
    assert [job["jobId"] for job in first["jobs"]] == [str(i) for i in made[:0:-1]]
    rest = client.get(url, params={"limit": 3, "cursor": first["nextCursor"]}).json()
    assert [job["jobId"] for job in rest["jobs"]] == [str(made[0])]
    assert rest["nextCursor"] is None
    running = client.get(url, params={"status": "PROCESSING"}).json()["jobs"]
    assert [job["jobId"] for job in running] == [str(made[2])]
    imports = client.get(url, params={"kind": "IMPORT"}).json()["jobs"]
    assert [job["jobId"] for job in imports] == [str(made[1])]
    for bad in ({"cursor": "not a cursor"}, {"cursor": "bm9wZQ"}):
        response = client.get(url, params=bad)
        assert response.status_code == 400 and "cursor" in response.json()["error"]
    for bad in ({"status": "DONE"}, {"kind": "BOTH"}, {"limit": 0}, {"limit": 201}):
        assert client.get(url, params=bad).status_code == 422
