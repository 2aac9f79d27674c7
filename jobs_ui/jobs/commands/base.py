"""What every command shares: the errors they answer, the rule of who sees a job, and the
checks each command makes before it acts (may this principal write, use this dataset, store
this much, start this job)."""

from __future__ import annotations

import base64
import binascii
import os
import shutil
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Literal

from jobs_ui.access.hooks import Action, authorize_hook
from jobs_ui.access.principal import Principal
from jobs_ui.access.tokens import AccessToken, JobTokens
from jobs_ui.datasets import Dataset, UnknownDatasetError, registry
from jobs_ui.engines.formats import FileFormat, format_from_filename
from jobs_ui.files import DataFiles
from jobs_ui.jobs.execution import file_limits
from jobs_ui.jobs.import_inputs import ImportInputs
from jobs_ui.jobs.mappings import MappingMemory
from jobs_ui.jobs.runners import JobRunner, QueueUnavailableError
from jobs_ui.jobs.store import QUEUE_DOWN, JobStore, Quota, QuotaExceededError
from jobs_ui.jobs.uploads import UploadStore
from jobs_ui.models import Job, JobKind
from jobs_ui.settings import Settings

JOB_NOT_FOUND = "Job not found"
UPLOAD_NOT_FOUND = (
    "Upload not found: it was imported already, or it is older than 24 hours. "
    "Upload the file again."
)
MAX_WAITING_UPLOADS = 50  # inspected files per principal not yet imported
COPY_CHUNK = 1024 * 1024
ExportFormat = Literal["csv", "jsonl", "xlsx"]


class CommandError(Exception):
    """A refusal with the status and sentence the caller should see."""

    def __init__(self, status: int, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.retry_after = status, message, retry_after


@dataclass(frozen=True)
class CreatedJob:
    """A new job, with the access token its creator can hand to a page or a link."""

    job: Job
    token: AccessToken


@dataclass(frozen=True)
class JobPage:
    jobs: Sequence[Job]
    next_cursor: str | None


class CommandsBase:
    """The services every command uses, and the rules they share."""

    def __init__(
        self,
        *,
        settings: Settings,
        store: JobStore,
        files: DataFiles,
        runner: JobRunner,
        tokens: JobTokens,
    ) -> None:
        self.settings, self.store, self.files = settings, store, files
        self.runner, self.tokens = runner, tokens
        self.quota = Quota(
            max_active_jobs=settings.max_active_jobs, max_stored_bytes=settings.max_stored_bytes
        )
        # Inspecting a file starts no job: only the bytes it keeps count.
        self.storage_quota = Quota(
            max_active_jobs=sys.maxsize, max_stored_bytes=settings.max_stored_bytes
        )
        self.limits = file_limits(settings)
        self.inputs = ImportInputs(
            files=files,
            uploads=UploadStore(store.engine, files),
            memory=MappingMemory(store.engine),
        )

    def visible_job(self, principal: Principal, job_id: uuid.UUID) -> Job:
        """The job, if this principal may see it; else exactly what an unknown job gets."""
        job = self.store.get(job_id)
        check_visible(principal, job_id, owner=job.owner if job else None)
        assert job is not None  # check_visible refuses a missing job
        return job

    @staticmethod
    def _writable(principal: Principal) -> None:
        check_writable(principal)

    def _dataset(self, principal: Principal, action: Action, name: str) -> Dataset:
        try:
            dataset = registry.get(name.strip())
        except UnknownDatasetError as error:
            raise CommandError(422, str(error)) from None
        if not authorize_hook()(principal, action, dataset):
            raise CommandError(403, f"You may not {action.value} {dataset.name}.")
        return dataset

    @staticmethod
    def _import_format(filename: str) -> FileFormat:
        file_format = format_from_filename(filename)
        if file_format is None:
            raise CommandError(
                415, "Unsupported file type: upload a .csv, .tsv, .txt, .jsonl or .xlsx file."
            )
        return file_format

    def _check_quota(
        self, principal: Principal, *, owner: str | None = None, active_jobs_too: bool = True
    ) -> None:
        quota = self.quota if active_jobs_too else self.storage_quota
        try:
            quota.check(self.store.usage(owner or principal.subject))
        except QuotaExceededError as error:
            raise CommandError(error.status, error.message, retry_after=error.retry_after) from None

    def _create(
        self,
        owner: str,
        *,
        kind: JobKind,
        dataset: str,
        params: dict[str, object],
        job_id: uuid.UUID | None = None,
        retry_of: uuid.UUID | None = None,
        commit_of: uuid.UUID | None = None,
        undo_of: uuid.UUID | None = None,
        fix_of: uuid.UUID | None = None,
        stored_bytes: int = 0,
    ) -> Job:
        try:
            return self.store.create(
                owner=owner,
                kind=kind,
                dataset=dataset,
                params=params,
                job_id=job_id,
                retry_of=retry_of,
                commit_of=commit_of,
                undo_of=undo_of,
                fix_of=fix_of,
                stored_bytes=stored_bytes,
                quota=self.quota,
            )
        except QuotaExceededError as error:
            raise CommandError(error.status, error.message, retry_after=error.retry_after) from None

    def _submit(self, job: Job) -> CreatedJob:
        """Hand a new job to the runner; if the queue cannot take it, the job ends FAILED."""
        try:
            self.runner.submit(job.id)
        except QueueUnavailableError:
            self.store.fail_unstarted(job.id, error=QUEUE_DOWN)
            raise CommandError(503, QUEUE_DOWN) from None
        return CreatedJob(job, self.tokens.mint(job_id=job.id))

    def _save_upload(self, source: BinaryIO, destination: Path) -> int:
        """Copy an upload into the data dir; too large or empty leaves nothing behind."""
        limit = self.settings.max_upload_bytes
        destination.parent.mkdir(parents=True, exist_ok=True)
        size = 0
        try:
            with destination.open("wb") as target:
                while chunk := source.read(COPY_CHUNK):
                    size += len(chunk)
                    if size > limit:
                        raise CommandError(413, too_large_message(limit))
                    target.write(chunk)
            if size == 0:
                raise CommandError(400, "The file is empty.")
        except BaseException:
            shutil.rmtree(destination.parent, ignore_errors=True)
            raise
        return size

    def _own_copy_of_upload(self, job: Job, retry_id: uuid.UUID) -> str:
        """The retry's own upload (a hard link where the disk allows), so each job's files
        live and expire with that job (see jobs_ui/jobs/retention.py)."""
        source = self.files.resolve(job.params["upload"])
        target = self.files.upload_path(retry_id, source.name)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source, target)
        except FileNotFoundError:
            shutil.rmtree(target.parent, ignore_errors=True)
            raise CommandError(
                410, "The uploaded file of this job is no longer stored; upload it again."
            ) from None
        except OSError:  # another file system, or links not allowed: copy instead
            shutil.copyfile(source, target)
        return self.files.relative(target)

    @staticmethod
    def _stored(path: Path) -> Path:
        if not path.is_file():
            raise CommandError(410, "This file is no longer stored.")
        return path


def check_writable(principal: Principal) -> None:
    """A job's access token reads that job and does nothing else."""
    if principal.read_only:
        # Routes that change anything do not take tokens; this guards the commands too.
        raise CommandError(403, "An access token can only read its job.")


def check_visible(principal: Principal, job_id: uuid.UUID, *, owner: str | None) -> None:
    """The one rule of who sees a job (`owner` None: there is no such job). A token sees
    its own job; `jobs:admin` every job; anyone else their own."""
    if principal.read_only:
        if principal.job_id != job_id:
            raise CommandError(401, "This access token is for another job.")
        visible = owner is not None
    else:
        visible = owner is not None and (principal.is_admin or owner == principal.subject)
    if not visible:
        raise CommandError(404, JOB_NOT_FOUND)


def too_large_message(limit: int) -> str:
    return f"The file is larger than the {limit / 1024 / 1024:.0f} MB limit."


def action_for(kind: JobKind) -> Action:
    return Action.IMPORT if kind is JobKind.IMPORT else Action.EXPORT


def encode_cursor(job: Job) -> str:
    raw = f"{job.created_at.isoformat()}|{job.id.hex}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created, _, job_hex = base64.urlsafe_b64decode(padded.encode()).decode().partition("|")
        return datetime.fromisoformat(created), uuid.UUID(hex=job_hex)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise CommandError(
            400, "The cursor is not valid; use nextCursor as it was given."
        ) from None
