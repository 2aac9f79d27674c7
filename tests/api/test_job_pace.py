"""A running job's pace (rowsPerSecond, etaSeconds) in its JSON and its stream, and gone
once it ends."""

from __future__ import annotations

import threading
import time
import uuid

from jobs_ui.models import JobKind
from jobs_ui.services import Services
from tests.support.sse import events

JOBS = "/api/import-export/jobs"
STREAM = f"{JOBS}/ws"


def running_job(services: Services) -> uuid.UUID:
    """A job the runner will not pick up (no params), moved by hand."""
    job = services.store.create(kind=JobKind.EXPORT, dataset="contacts", owner="t", params={})
    services.store.start(job.id)
    return job.id


def test_a_processing_job_has_its_pace_and_an_ended_one_none(client, services):
    job_id = running_job(services)
    started = client.get(f"{JOBS}/{job_id}").json()
    assert (started["rowsPerSecond"], started["etaSeconds"]) == (None, None)  # not known yet
    services.store.report_progress(
        job_id, progress=40, message="Writing rows", rows_per_second=1234.5, eta_seconds=42
    )
    job = client.get(f"{JOBS}/{job_id}").json()
    assert job["status"] == "PROCESSING"
    assert (job["rowsPerSecond"], job["etaSeconds"]) == (1234.5, 42)
    # After `message`, before the fields that follow it; the contract's stay first.
    names = list(job)
    assert names.index("message") + 1 == names.index("rowsPerSecond")
    assert names.index("rowsPerSecond") + 1 == names.index("etaSeconds")
    listed = client.get(JOBS, params={"status": "PROCESSING"}).json()["jobs"]
    assert [(j["rowsPerSecond"], j["etaSeconds"]) for j in listed] == [(1234.5, 42)]

    services.store.complete(job_id, result={"rowCount": 0}, message="Exported 0 rows")
    done = client.get(f"{JOBS}/{job_id}").json()
    assert done["status"] == "COMPLETED"
    assert (done["rowsPerSecond"], done["etaSeconds"]) == (None, None)


def test_a_cancel_request_keeps_the_pace_and_the_cancel_clears_it(client, services):
    job_id = running_job(services)
    services.store.report_progress(
        job_id, progress=10, message="Writing rows", rows_per_second=10.0, eta_seconds=90
    )
    asked = client.post(f"{JOBS}/{job_id}/cancel").json()
    assert asked["status"] == "PROCESSING" and asked["etaSeconds"] == 90  # still running
    services.store.mark_cancelled(job_id)
    cancelled = client.get(f"{JOBS}/{job_id}").json()
    assert (cancelled["rowsPerSecond"], cancelled["etaSeconds"]) == (None, None)


def test_each_status_update_carries_the_pace(client, services):
    job = services.store.create(kind=JobKind.EXPORT, dataset="contacts", owner="t", params={})

    def drive() -> None:
        time.sleep(0.2)
        services.store.start(job.id)
        time.sleep(0.05)
        services.store.report_progress(job.id, progress=5, message="early")
        for percent, rate, eta in ((40, 500.0, 60), (70, 520.5, 25)):
            time.sleep(0.05)
            services.store.report_progress(
                job.id, progress=percent, message="at", rows_per_second=rate, eta_seconds=eta
            )
        time.sleep(0.05)
        services.store.complete(job.id, result={"rowCount": 0}, message="done")

    threading.Thread(target=drive).start()
    with client.stream("GET", STREAM, params={"jobId": str(job.id)}) as response:
        updates = [event.data for event in events(response)][1:]
    assert all(update["type"] == "status_update" for update in updates)
    assert [(u["status"], u["rowsPerSecond"], u["etaSeconds"]) for u in updates] == [
        ("PENDING", None, None),
        ("PROCESSING", None, None),
        ("PROCESSING", None, None),
        ("PROCESSING", 500.0, 60),
        ("PROCESSING", 520.5, 25),
        ("COMPLETED", None, None),
    ]
