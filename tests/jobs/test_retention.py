"""Files of jobs that ended long ago are deleted; everything else stays."""

from __future__ import annotations

import os
import time
import uuid
from datetime import timedelta

from sqlalchemy import update
from sqlmodel import Session

from jobs_ui.jobs.retention import sweep_old_files
from jobs_ui.models import Job, JobKind, utc_now
from tests.support.jobs import start_import, wait_for_end

KEEP = timedelta(days=7)
OLD = time.time() - timedelta(days=30).total_seconds()


def ended_job(services, *, days_ago: float) -> uuid.UUID:
    job = services.store.create(kind=JobKind.IMPORT, dataset="contacts", owner="t", params={})
    services.store.fail_unstarted(job.id, error="test")
    with Session(services.engine) as session:
        ended = utc_now() - timedelta(days=days_ago)
        session.exec(update(Job).where(Job.id == job.id).values(finished_at=ended))
        session.commit()
    return job.id


def stored(services, folder: str, job_id: object, *, old: bool = True):
    path = services.settings.data_dir / folder / str(job_id) / "file.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("name,email\n")
    if old:
        os.utime(path, (OLD, OLD))
        os.utime(path.parent, (OLD, OLD))
    return path.parent


def test_only_the_files_of_jobs_that_ended_long_ago_go(services):
    long_ago = ended_job(services, days_ago=10)
    recently = ended_job(services, days_ago=1)
    running = services.store.create(kind=JobKind.EXPORT, dataset="contacts", owner="t", params={})
    upload = stored(services, "uploads", long_ago)
    export = stored(services, "exports", long_ago)
    report = services.settings.data_dir / "reports" / f"{long_ago}-errors.csv"
    report.write_text("row,reason\n")
    os.utime(report, (OLD, OLD))
    kept = [
        stored(services, "uploads", recently),
        stored(services, "exports", running.id),
        stored(services, "uploads", uuid.uuid4(), old=False),  # its job row is not there yet
        stored(services, "uploads", "not-a-job"),
    ]
    orphan = stored(services, "uploads", uuid.uuid4())

    swept = sweep_old_files(services.store, services.files, keep_for=KEEP)

    assert swept == 2  # the job that ended 10 days ago, and the folder of no job
    assert not upload.exists() and not export.exists() and not report.exists()
    assert not orphan.exists()
    assert all(path.exists() for path in kept)
    assert services.store.get(long_ago) is not None  # the job itself stays in the list
    assert sweep_old_files(services.store, services.files, keep_for=KEEP) == 0


def test_a_swept_export_answers_410_no_longer_stored(client, services):
    job_id = ended_job(services, days_ago=10)
    with Session(services.engine) as session:
        url = f"/api/import-export/jobs/{job_id}/download"
        result = {"fileName": "file.csv", "fileUrl": url}
        values = {"kind": JobKind.EXPORT, "status": "COMPLETED", "result": result}
        session.exec(update(Job).where(Job.id == job_id).values(**values))
        session.commit()
    stored(services, "exports", job_id)
    download = f"/api/import-export/jobs/{job_id}/download"
    assert client.get(download).status_code == 200
    sweep_old_files(services.store, services.files, keep_for=KEEP)
    response = client.get(download)
    assert response.status_code == 410
    assert response.json()["error"] == "This file is no longer stored."
    result = client.get(f"/api/import-export/jobs/{job_id}").json()["result"]
    assert result["filesDeleted"] is True and result["fileUrl"] is None  # pages say so


def test_a_retry_keeps_its_own_upload_when_the_original_is_swept(client, services, tmp_path):
    path = tmp_path / "header-only.csv"
    path.write_text("name,email\n")  # fails: no data rows
    failed = wait_for_end(client, start_import(client, path)["jobId"])
    original = next((services.settings.data_dir / "uploads" / failed["jobId"]).iterdir())
    response = client.post(f"/api/import-export/jobs/{failed['jobId']}/retry")
    assert response.status_code == 201
    retry = wait_for_end(client, response.json()["jobId"])
    with Session(services.engine) as session:
        ended = utc_now() - timedelta(days=10)
        original_id = uuid.UUID(failed["jobId"])
        session.exec(update(Job).where(Job.id == original_id).values(finished_at=ended))
        session.commit()
    for item in (original, original.parent):
        os.utime(item, (OLD, OLD))

    assert sweep_old_files(services.store, services.files, keep_for=KEEP) == 1

    assert not original.exists()
    retry_upload = services.settings.data_dir / "uploads" / retry["jobId"] / original.name
    assert retry_upload.read_text() == "name,email\n"
