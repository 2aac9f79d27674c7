"""The links a job's result carries are computed from the job, never taken from the row."""

from __future__ import annotations

import uuid

from jobs_ui.models import Job, JobKind, JobStatus, public_result


def job(kind: JobKind, status: JobStatus, result: dict) -> Job:
    return Job(id=uuid.uuid4(), kind=kind, dataset="contacts", status=status, result=result)


def test_a_completed_export_links_to_its_own_file():
    done = job(JobKind.EXPORT, JobStatus.COMPLETED, {"fileName": "x.csv", "fileUrl": "/elsewhere"})
    assert public_result(done)["fileUrl"] == f"/api/import-export/jobs/{done.id}/download"


def test_an_import_links_its_report_only_when_rows_were_skipped_and_kept():
    skipped = job(JobKind.IMPORT, JobStatus.COMPLETED, {"skippedCount": 2})
    clean = job(JobKind.IMPORT, JobStatus.COMPLETED, {"skippedCount": 0})
    deleted = job(JobKind.IMPORT, JobStatus.COMPLETED, {"skippedCount": 2, "filesDeleted": True})
    assert public_result(skipped)["errorReportUrl"].endswith(f"/{skipped.id}/error-report")
    assert public_result(clean)["errorReportUrl"] is None
    assert public_result(deleted)["errorReportUrl"] is None


def test_a_job_that_did_not_complete_carries_no_stored_link():
    other = uuid.uuid4()
    failed = job(
        JobKind.IMPORT,
        JobStatus.FAILED,
        {"errorReportUrl": f"/api/import-export/jobs/{other}/error-report", "totalRows": 3},
    )
    assert public_result(failed) == {"totalRows": 3}
