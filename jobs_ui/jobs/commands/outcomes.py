"""Commands on what an import did: commit a dry run, undo an import.

Both start a new job (201) of the import's owner, so the page and the stream follow it as any
other; both are refused (409) where they make no sense, and (410) once what they need is no
longer kept: the rows a dry run checked, and an import's record of what it changed, are kept
as long as its files (JOBS_UI_KEEP_FILES_DAYS).
"""

from __future__ import annotations

import os
import shutil
import uuid
from datetime import timedelta

from jobs_ui.access.hooks import Action
from jobs_ui.access.principal import Principal
from jobs_ui.engines.import_job import CHECKED_ROWS_GONE
from jobs_ui.jobs.commands.base import CommandError, CreatedJob
from jobs_ui.jobs.commands.imports import ImportCommands
from jobs_ui.jobs.lineage import JobLineage
from jobs_ui.models import Job, JobKind, JobStatus, as_utc, utc_now

UNDO_RECORD_GONE = (
    "This import can no longer be undone: what it changed is kept for {days:g} days after "
    "it ends (as its files are), and that time has passed."
)

NO_UNDO_RECORD = (
    "This import cannot be undone: it ran before imports kept a record of the rows they changed."
)


class OutcomeCommands(ImportCommands):
    """Committing dry runs and undoing imports."""

    @property
    def lineage(self) -> JobLineage:
        return JobLineage(self.store.engine)

    def commit(self, principal: Principal, job_id: uuid.UUID) -> CreatedJob:
        """Import what a completed dry run checked, once, as a new job of the dry run's
        owner (who alone, with `jobs:admin`, may ask: anyone else is told it does not exist)."""
        self._writable(principal)
        dry = self.visible_job(principal, job_id)
        if dry.kind is not JobKind.IMPORT or not dry.params.get("dryRun"):
            raise CommandError(409, "Only a dry run can be committed; this job is not one.")
        if dry.status is not JobStatus.COMPLETED or not dry.result:
            raise CommandError(
                409,
                f"The dry run has not completed (it is {dry.status.value}), so there is "
                "nothing to commit yet.",
            )
        committed = self.lineage.commit_of(dry.id)
        if committed is not None:
            raise CommandError(
                409, f"This dry run has been committed already (job {committed.id})."
            )
        dataset = self._dataset(principal, Action.IMPORT, dry.dataset)
        self._check_quota(principal)
        commit_id = uuid.uuid4()
        kept, taken = self.files.checked_rows_path(dry.id), self.files.checked_rows_path(commit_id)
        try:
            os.rename(kept, taken)  # the claim: a second commit at the same moment finds none
        except FileNotFoundError:
            if dry.result.get("filesDeleted"):
                raise CommandError(410, CHECKED_ROWS_GONE) from None
            raise CommandError(409, "This dry run is being committed already.") from None
        try:
            upload = self._own_copy_of_upload(dry, commit_id)  # for a retry of the commit
            params = {
                **dry.params,
                "upload": upload,
                "dryRun": False,
                "checked": self.files.relative(taken),
                "totalRows": dry.result["totalRows"],
                "mapping": dry.result.get("mapping") or dry.params.get("mapping"),
            }
            job = self._create(
                dry.owner,
                kind=JobKind.IMPORT,
                dataset=dataset.name,
                params=params,
                job_id=commit_id,
                commit_of=dry.id,
                stored_bytes=int(dry.params.get("sizeBytes") or 0),
            )
        except BaseException:
            os.rename(taken, kept)  # not committed: the dry run can be committed again
            shutil.rmtree(self.files.upload_dir(commit_id), ignore_errors=True)
            raise
        return self._submit(job)

    def undo(self, principal: Principal, job_id: uuid.UUID) -> CreatedJob:
        """Undo a completed import as a new job (see jobs_ui/engines/undo_job.py)."""
        self._writable(principal)
        job = self.visible_job(principal, job_id)
        if job.kind is not JobKind.IMPORT:
            raise CommandError(404, "Import not found")
        self._check_undoable(job)
        dataset = self._dataset(principal, Action.IMPORT, job.dataset)
        self._check_quota(principal, owner=job.owner)
        undo = self._create(
            job.owner,
            kind=JobKind.IMPORT,
            dataset=dataset.name,
            params={"fileName": job.params.get("fileName")},
            undo_of=job.id,
        )
        return self._submit(undo)

    def _check_retry_of_outcome(self, job: Job) -> None:
        """A failed or cancelled commit or undo is tried again only while what it was for
        still can be done: the dry run not committed meanwhile (by another retry), the
        import not undone, and its record still kept."""
        if job.commit_of is not None:
            committed = self.lineage.commit_under_way(job.commit_of)
            if committed is not None:
                raise CommandError(
                    409, f"This dry run has been committed already (job {committed.id})."
                )
        if job.undo_of is not None:
            undone = self.store.get(job.undo_of)
            if undone is None:
                raise CommandError(404, "Import not found")
            self._check_undoable(undone)

    def _check_undoable(self, job: Job) -> None:
        result = job.result or {}
        if job.undo_of is not None:
            raise CommandError(409, "An undo cannot be undone; import the file again instead.")
        if job.params.get("dryRun"):
            raise CommandError(409, "A dry run wrote nothing, so there is nothing to undo.")
        if job.status is not JobStatus.COMPLETED:
            raise CommandError(
                409, f"Only a completed import can be undone; this one is {job.status.value}."
            )
        if job.undone_by is not None:
            raise CommandError(409, f"This import has been undone already (job {job.undone_by}).")
        under_way = self.lineage.undo_under_way(job.id)
        if under_way is not None:
            raise CommandError(409, f"This import is being undone already (job {under_way.id}).")
        if not int(result.get("importedCount") or 0):
            raise CommandError(409, "This import changed no rows, so there is nothing to undo.")
        days = self.settings.keep_files_days
        ended = as_utc(job.finished_at or job.updated_at)
        expired = utc_now() - ended > timedelta(days=days) or result.get("filesDeleted")
        if expired:
            raise CommandError(410, UNDO_RECORD_GONE.format(days=days))
        if not self.lineage.changes_recorded(job.id):
            raise CommandError(410, NO_UNDO_RECORD)
