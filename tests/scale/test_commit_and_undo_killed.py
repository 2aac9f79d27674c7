"""A worker killed (SIGKILL) while it commits a dry run or undoes an import: the table is as
it was before, the job ends FAILED (with one run allowed; with more it runs again by itself,
see test_scale_out), and its retry, on a new worker, does the whole work."""

from __future__ import annotations

import hashlib
import os
import signal
import time

import httpx
from sqlalchemy import text

from jobs_ui.db import make_engine
from tests.support.files import contacts_csv
from tests.support.jobs import wait_for_end

JOBS = "/api/import-export/jobs"
ROWS = 300_000


def table_checksum(environment: dict[str, str]) -> tuple[int, str]:
    engine = make_engine(environment["DATABASE_URL"])
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT name, email, company, phone FROM contacts ORDER BY email")
        ).all()
    engine.dispose()
    return len(rows), hashlib.sha256(repr(rows).encode()).hexdigest()


def send(client: httpx.Client, path, **fields: str) -> dict:
    with path.open("rb") as handle:
        response = client.post(
            f"{JOBS}/import",
            data={"dataset": "contacts", **fields},
            files={"file": (path.name, handle)},
        )
    assert response.status_code == 201, response.text
    return response.json()


def kill_while_processing(client: httpx.Client, job_id: str, worker) -> dict:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = client.get(f"{JOBS}/{job_id}").json()
        if job["status"] == "PROCESSING":
            break
        assert job["status"] == "PENDING", job
        time.sleep(0.02)
    os.killpg(worker.pid, signal.SIGKILL)  # the whole worker, pool processes too
    worker.wait()
    ended = wait_for_end(client, job_id, timeout=30)
    assert ended["status"] == "FAILED", ended
    assert "stopped responding" in ended["error"]
    return ended


def test_a_commit_killed_midway_keeps_the_table_and_its_retry_commits(deployment, tmp_path):
    deployment.environment["JOBS_UI_MAX_ATTEMPTS"] = "1"  # FAILED, not run again by itself
    backend = deployment.backend()
    deployment.worker()
    first = send(backend, contacts_csv(tmp_path / "stored.csv", ROWS))
    assert wait_for_end(backend, first["jobId"], timeout=120)["status"] == "COMPLETED"
    before = table_checksum(deployment.environment)
    changed = tmp_path / "changed.csv"
    changed.write_text(
        (tmp_path / "stored.csv").read_text().replace(",Company 1,", ",Changed Co,"), "utf-8"
    )
    dry = send(backend, changed, mode="upsert", dryRun="true")
    dry_done = wait_for_end(backend, dry["jobId"], timeout=120)
    assert dry_done["status"] == "COMPLETED", dry_done
    would = dry_done["result"]["wouldUpdate"]
    assert would > 0

    commit = backend.post(f"{JOBS}/{dry['jobId']}/commit")
    assert commit.status_code == 201, commit.text
    kill_while_processing(backend, commit.json()["jobId"], deployment.workers[-1])
    assert table_checksum(deployment.environment) == before, "nothing half-committed"

    deployment.worker()
    retry = backend.post(f"{JOBS}/{commit.json()['jobId']}/retry")
    assert retry.status_code == 201, retry.text
    done = wait_for_end(backend, retry.json()["jobId"], timeout=180)
    assert done["status"] == "COMPLETED", done
    assert done["result"]["updatedCount"] == would and done["commitOf"] == dry["jobId"]
    assert table_checksum(deployment.environment) != before


def test_an_undo_killed_midway_keeps_the_table_and_its_retry_undoes(deployment, tmp_path):
    deployment.environment["JOBS_UI_MAX_ATTEMPTS"] = "1"
    backend = deployment.backend()
    deployment.worker()
    imported = send(backend, contacts_csv(tmp_path / "stored.csv", ROWS))
    assert wait_for_end(backend, imported["jobId"], timeout=120)["status"] == "COMPLETED"
    after_import = table_checksum(deployment.environment)
    assert after_import[0] == ROWS

    undo = backend.post(f"{JOBS}/{imported['jobId']}/undo")
    assert undo.status_code == 201, undo.text
    kill_while_processing(backend, undo.json()["jobId"], deployment.workers[-1])
    assert table_checksum(deployment.environment) == after_import, "nothing half-undone"
    assert backend.get(f"{JOBS}/{imported['jobId']}").json()["undoneBy"] is None

    deployment.worker()
    retry = backend.post(f"{JOBS}/{undo.json()['jobId']}/retry")
    assert retry.status_code == 201, retry.text
    done = wait_for_end(backend, retry.json()["jobId"], timeout=180)
    assert done["status"] == "COMPLETED", done
    assert done["result"]["deletedCount"] == ROWS and done["undoOf"] == imported["jobId"]
    assert table_checksum(deployment.environment)[0] == 0
    assert backend.get(f"{JOBS}/{imported['jobId']}").json()["undoneBy"] == done["jobId"]
