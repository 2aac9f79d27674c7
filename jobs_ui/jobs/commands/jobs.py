"""The commands the API routes and the pages call: `JobCommands`, every one of them."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Collection
from datetime import datetime
from pathlib import Path

from jobs_ui.access.hooks import Action, authorize_hook
from jobs_ui.access.principal import Principal
from jobs_ui.access.tokens import AccessToken
from jobs_ui.datasets import Dataset, UnknownDatasetError, registry
from jobs_ui.jobs.commands.base import (
    CommandError,
    CreatedJob,
    ExportFormat,
    JobPage,
    action_for,
    decode_cursor,
    encode_cursor,
)
from jobs_ui.jobs.commands.fixes import FixCommands
from jobs_ui.models import FINAL_STATUSES, Job, JobKind, JobStatus, public_result


class JobCommands(FixCommands):
    """Reading, listing, exporting, cancelling, retrying (imports: see ImportCommands;
    commits and undos: OutcomeCommands)."""

    def check_can_start(self, principal: Principal) -> None:
        """Refuse early (before an upload is taken in) a principal that may start no job."""
        self._writable(principal)
        self._check_quota(principal)

    def list_jobs(
        self,
        principal: Principal,
        *,
        limit: int = 50,
        cursor: str | None = None,
        status: JobStatus | None = None,
        kind: JobKind | None = None,
    ) -> JobPage:
        """The principal's jobs (everyone's for `jobs:admin`), newest first, a page at a time."""
        self._writable(principal)
        owner = None if principal.is_admin else principal.subject
        after = decode_cursor(cursor) if cursor else None
        jobs = self.store.list_jobs(
            owner=owner, limit=limit + 1, after=after, status=status, kind=kind
        )
        if len(jobs) <= limit:
            return JobPage(jobs, None)
        jobs = jobs[:limit]
        return JobPage(jobs, encode_cursor(jobs[-1]))

    def news(
        self, principals: Collection[Principal], *, ended_after: datetime
    ) -> dict[str, list[Job]]:
        """For each principal's subject, its own jobs still to finish and those that ended
        after `ended_after` (an admin's too: the news is of what one started oneself). One
        read for every open page of a process; a principal that may not list jobs (a job
        token) gets nothing."""
        subjects = {p.subject for p in principals if not p.read_only}
        news: dict[str, list[Job]] = {subject: [] for subject in subjects}
        for job in self.store.news_of(subjects, ended_after=ended_after):
            news[job.owner].append(job)
        return news

    def export_file(self, principal: Principal, job_id: uuid.UUID) -> tuple[Path, str]:
        """The path and download name of a completed export's file."""
        job = self.visible_job(principal, job_id)
        if job.kind is not JobKind.EXPORT:
            raise CommandError(404, "Export not found")
        if job.status is not JobStatus.COMPLETED or not job.result:
            raise CommandError(409, f"The export is not ready (it is {job.status.value}).")
        name = str(job.result["fileName"])
        return self._stored(self.files.export_path(job.id, name)), name

    def error_report(self, principal: Principal, job_id: uuid.UUID) -> tuple[Path, str]:
        """The path and download name of an import's report of skipped rows."""
        job = self.visible_job(principal, job_id)
        if job.kind is not JobKind.IMPORT:
            raise CommandError(404, "Import not found")
        if not (public_result(job) or {}).get("errorReportUrl"):
            raise CommandError(404, "This import has no error report.")
        stem = Path(str(job.params.get("fileName") or "import")).stem
        return self._stored(self.files.error_report_path(job.id)), f"{stem}-errors.csv"

    def access_token(self, principal: Principal, job_id: uuid.UUID) -> AccessToken:
        """A fresh read-only token for one job; its owner (or an admin) only."""
        self._writable(principal)
        job = self.visible_job(principal, job_id)
        return self.tokens.mint(job_id=job.id)

    def visible_datasets(self, principal: Principal) -> list[Dataset]:
        """The datasets this principal may import into or export (either will do: both
        need to know the fields), by name."""
        self._writable(principal)  # a job's token reads that job, nothing else
        datasets = map(registry.get, registry.names())
        return [dataset for dataset in datasets if self._may_use(principal, dataset)]

    def dataset_for(self, principal: Principal, name: str) -> Dataset:
        """One dataset, as `visible_datasets` lists it: an unknown one is 404 (it is what
        the path names), one the principal may neither import nor export 403."""
        self._writable(principal)
        try:
            dataset = registry.get(name)
        except UnknownDatasetError:
            raise CommandError(404, f"There is no dataset named {name[:64]!r}.") from None
        if not self._may_use(principal, dataset):
            raise CommandError(403, f"You may not import or export {dataset.name}.")
        return dataset

    @staticmethod
    def _may_use(principal: Principal, dataset: Dataset) -> bool:
        allowed = authorize_hook()
        return allowed(principal, Action.IMPORT, dataset) or allowed(
            principal, Action.EXPORT, dataset
        )

    def create_export(
        self,
        principal: Principal,
        *,
        dataset: str,
        file_format: ExportFormat = "csv",
        search: str | None = None,
    ) -> CreatedJob:
        self._writable(principal)
        chosen = self._dataset(principal, Action.EXPORT, dataset)
        params: dict[str, object] = {
            "format": file_format,
            "filter": (search or "").strip() or None,
        }
        job = self._create(
            principal.subject, kind=JobKind.EXPORT, dataset=chosen.name, params=params
        )
        return self._submit(job)

    def cancel(self, principal: Principal, job_id: uuid.UUID) -> Job:
        """A pending job is cancelled at once; a running one stops at its next chunk."""
        self._writable(principal)
        job = self.visible_job(principal, job_id)
        if job.status in FINAL_STATUSES:
            raise CommandError(409, f"The job has already ended ({job.status.value}).")
        self.runner.cancel(job.id)
        return self.store.request_cancel(job.id) or job

    def retry(self, principal: Principal, job_id: uuid.UUID) -> CreatedJob:
        """Run a FAILED or CANCELLED job again as a new job of the same owner and input."""
        self._writable(principal)
        job = self.visible_job(principal, job_id)
        if job.status not in (JobStatus.FAILED, JobStatus.CANCELLED):
            raise CommandError(
                409,
                f"Only failed or cancelled jobs can be retried; this one is {job.status.value}.",
            )
        dataset = self._dataset(principal, action_for(job.kind), job.dataset)
        self._check_retry_of_outcome(job)
        self._check_quota(principal, owner=job.owner)
        retry_id = uuid.uuid4()
        params = dict(job.params)
        params.pop("checked", None)  # a commit tried again reads its file again
        stored = 0
        if job.kind is JobKind.IMPORT and job.undo_of is None:
            params["upload"] = self._own_copy_of_upload(job, retry_id)
            stored = int(job.params.get("sizeBytes") or 0)
        try:
            retry = self._create(
                job.owner,
                kind=job.kind,
                dataset=dataset.name,
                params=params,
                job_id=retry_id,
                retry_of=job.id,
                commit_of=job.commit_of,
                undo_of=job.undo_of,
                fix_of=job.fix_of,
                stored_bytes=stored,
            )
        except BaseException:
            shutil.rmtree(self.files.upload_dir(retry_id), ignore_errors=True)
            raise
        return self._submit(retry)
