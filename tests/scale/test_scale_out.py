"""Two backend processes, Celery workers and Redis, all real processes."""

from __future__ import annotations

import os
import signal
import time

from sqlmodel import Session, func, select

from jobs_ui.datasets.shipped import Contact
from jobs_ui.db import make_engine
from tests.support.files import contacts_csv
from tests.support.jobs import start_import, wait_for_end
from tests.support.services import RABBITMQ_TEST_URL, require_rabbitmq
from tests.support.sse import events

STREAM = "/api/import-export/jobs/ws"


def stream_to_end(client, job_id: str) -> list:
    with client.stream("GET", STREAM, params={"jobId": job_id}, timeout=120) as response:
        assert response.status_code == 200
        return list(events(response))


def contact_count(environment) -> int:
    engine = make_engine(environment["DATABASE_URL"])
    with Session(engine) as session:
        count = session.exec(select(func.count()).select_from(Contact)).one()
    engine.dispose()
    return int(count)


def wait_for_progress(client, job_id: str, at_least: int, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/api/import-export/jobs/{job_id}").json()
        if job["status"] == "PROCESSING" and job["progress"] >= at_least:
            return job
        assert job["status"] in ("PENDING", "PROCESSING"), job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} never reached {at_least}%")


def test_job_created_on_one_backend_streams_from_another(deployment, tmp_path):
    first, second = deployment.backend(), deployment.backend()
    deployment.worker()
    job = start_import(first, contacts_csv(tmp_path / "c.csv", 120_000))
    received = stream_to_end(second, job["jobId"])
    assert received[0].data == {"type": "connected", "jobId": job["jobId"]}
    updates = received[1:]
    versions = [int(event.id) for event in updates]
    assert versions == sorted(set(versions)), "in order, nothing duplicated"
    progress = [event.data["progress"] for event in updates]
    assert progress == sorted(progress) and len(updates) >= 5, progress
    assert updates[-1].data["status"] == "COMPLETED"
    assert updates[-1].data["result"]["importedCount"] == 120_000
    # The row is the truth: both backends agree with what the stream ended on.
    for client in (first, second):
        job_now = client.get(f"/api/import-export/jobs/{job['jobId']}").json()
        assert job_now["version"] == versions[-1]


def test_a_killed_workers_job_runs_again_by_itself_on_another_worker(deployment, tmp_path):
    backend, worker, job = import_under_way(deployment, tmp_path)
    os.killpg(worker.pid, signal.SIGKILL)  # the whole worker, pool processes too, mid-import
    worker.wait()
    queued = wait_for_attempt(backend, job["jobId"], 2)
    assert queued["status"] == "PENDING"  # no worker left to take it yet
    assert queued["message"] == "Started again after the worker running it stopped"
    assert contact_count(deployment.environment) == 0, "nothing half-imported"

    deployment.worker()
    done = wait_for_end(backend, job["jobId"], timeout=120)
    assert (done["status"], done["attempt"]) == ("COMPLETED", 2), done
    assert done["result"]["importedCount"] == 400_000
    assert contact_count(deployment.environment) == 400_000


def test_a_job_whose_workers_keep_dying_ends_failed_and_its_retry_runs(deployment, tmp_path):
    deployment.environment["JOBS_UI_MAX_ATTEMPTS"] = "1"
    backend, worker, job = import_under_way(deployment, tmp_path)
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait()
    ended = wait_for_end(backend, job["jobId"], timeout=30)
    assert (ended["status"], ended["attempt"]) == ("FAILED", 1)
    assert "stopped responding" in ended["error"]

    deployment.worker()
    retry = backend.post(f"/api/import-export/jobs/{job['jobId']}/retry")
    assert retry.status_code == 201
    done = wait_for_end(backend, retry.json()["jobId"], timeout=120)
    assert done["status"] == "COMPLETED" and done["result"]["importedCount"] == 400_000
    assert contact_count(deployment.environment) == 400_000


def test_a_worker_asked_to_stop_finishes_its_job_first(deployment, tmp_path):
    backend, worker, job = import_under_way(deployment, tmp_path)
    # To the main process alone (as a container's init passes it on): Celery's warm
    # shutdown, where running tasks finish before the worker exits.
    os.kill(worker.pid, signal.SIGTERM)
    worker.wait(timeout=120)
    done = wait_for_end(backend, job["jobId"], timeout=30)
    assert (done["status"], done["attempt"]) == ("COMPLETED", 1), done
    assert contact_count(deployment.environment) == 400_000


def test_a_worker_group_stopped_at_once_has_its_job_run_again(deployment, tmp_path):
    backend, worker, job = import_under_way(deployment, tmp_path)
    # To every process of the worker (as systemd stops a service): the pool process
    # running the job dies with it, so the job is lost and then found by the reaper.
    os.killpg(worker.pid, signal.SIGTERM)
    worker.wait(timeout=120)
    assert wait_for_attempt(backend, job["jobId"], 2)["status"] == "PENDING"
    assert contact_count(deployment.environment) == 0
    deployment.worker()
    done = wait_for_end(backend, job["jobId"], timeout=120)
    assert (done["status"], done["attempt"]) == ("COMPLETED", 2), done
    assert contact_count(deployment.environment) == 400_000


def import_under_way(deployment, tmp_path) -> tuple:
    """A backend, a worker, and a 400,000-row import of contacts that worker is running."""
    backend = deployment.backend()
    worker = deployment.worker()
    job = start_import(backend, contacts_csv(tmp_path / "big.csv", 400_000))
    wait_for_progress(backend, job["jobId"], at_least=10)
    return backend, worker, job


def wait_for_attempt(client, job_id: str, attempt: int, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/api/import-export/jobs/{job_id}").json()
        if job["attempt"] >= attempt:
            return job
        assert job["status"] in ("PENDING", "PROCESSING"), job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} was not started again")


def test_stream_reaches_the_end_across_a_redis_restart(deployment, private_redis, tmp_path):
    backend = deployment.backend()
    deployment.worker()
    job = start_import(backend, contacts_csv(tmp_path / "r.csv", 300_000))
    with backend.stream("GET", STREAM, params={"jobId": job["jobId"]}, timeout=120) as response:
        stream = events(response)
        seen = [next(stream), next(stream)]
        wait_for_progress(backend, job["jobId"], at_least=5)
        private_redis.stop()
        time.sleep(1.0)
        private_redis.start()
        seen.extend(stream)
    assert seen[-1].data["status"] == "COMPLETED"
    assert seen[-1].data["result"]["importedCount"] == 300_000
    versions = [int(event.id) for event in seen[1:]]
    assert versions == sorted(set(versions))


def test_a_rabbitmq_broker_works_too(deployment, tmp_path):
    require_rabbitmq()
    deployment.environment["JOBS_UI_BROKER_URL"] = RABBITMQ_TEST_URL
    backend = deployment.backend()
    deployment.worker()
    job = start_import(backend, contacts_csv(tmp_path / "amqp.csv", 1_000))
    done = wait_for_end(backend, job["jobId"], timeout=60)
    assert done["status"] == "COMPLETED" and done["result"]["importedCount"] == 1_000
