"""Every decision of who may do what to which job or dataset, in one place.

The API routes and the Reflex states both call these commands, in-process. A job is its
owner's alone: another principal's job answers exactly as an unknown one ("Job not found"),
so nobody can learn that it exists. `jobs:admin` sees and acts on all. A job access token
reads its one job and does nothing else. Commands block (database, disk): call them from a
thread pool in async code.
"""

from __future__ import annotations

import base64
import binascii
import os
import shutil
import sys
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Literal

from jobs_ui.access.hooks import Action, authorize_hook
from jobs_ui.access.principal import Principal
from jobs_ui.access.tokens import AccessToken, JobTokens
from jobs_ui.datasets import Dataset, UnknownDatasetError, registry
from jobs_ui.engines.formats import FileFormat, UnreadableFileError, format_from_filename
from jobs_ui.engines.mapping import FieldMapping, MappingError
from jobs_ui.engines.preview import FilePreview
from jobs_ui.files import DataFiles
from jobs_ui.jobs.execution import file_limits
from jobs_ui.jobs.import_inputs import ImportInputs, Inspection, try_preview
from jobs_ui.jobs.mappings import MappingMemory
from jobs_ui.jobs.runners import JobRunner, QueueUnavailableError
from jobs_ui.jobs.store import QUEUE_DOWN, JobStore, Quota, QuotaExceededError
from jobs_ui.jobs.uploads import Upload, UploadStore
from jobs_ui.models import FINAL_STATUSES, Job, JobKind, JobStatus, public_result
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
class _ChosenInput:
    mapping: FieldMapping | None
    sheet: str | None


@dataclass(frozen=True)
class JobPage:
    jobs: Sequence[Job]
    next_cursor: str | None


class JobCommands:
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

    # --- reading -----------------------------------------------------------------------

    def visible_job(self, principal: Principal, job_id: uuid.UUID) -> Job:
        """The job, if this principal may see it; else exactly what an unknown job gets."""
        job = self.store.get(job_id)
        check_visible(principal, job_id, owner=job.owner if job else None)
        assert job is not None  # check_visible refuses a missing job
        return job

    def check_can_start(self, principal: Principal) -> None:
        """Refuse early (before an upload is taken in) a principal that may start no job."""
        self._writable(principal)
        self._check_quota(principal)

    def check_can_inspect(self, principal: Principal) -> None:
        """Refuse early a principal that may store no more files (before the upload)."""
        self._writable(principal)
        self._check_room_for_upload(principal)

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
        after = _decode_cursor(cursor) if cursor else None
        jobs = self.store.list_jobs(
            owner=owner, limit=limit + 1, after=after, status=status, kind=kind
        )
        if len(jobs) <= limit:
            return JobPage(jobs, None)
        jobs = jobs[:limit]
        return JobPage(jobs, _encode_cursor(jobs[-1]))

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

    # --- acting ------------------------------------------------------------------------

    def inspect(
        self,
        principal: Principal,
        *,
        dataset: str,
        filename: str,
        source: BinaryIO,
        sheet: str | None = None,
    ) -> Inspection:
        """Store a file under a new upload id (its sender's alone) and preview its start."""
        self._writable(principal)
        chosen = self._dataset(principal, Action.IMPORT, dataset)
        file_format = self._import_format(filename)
        self._check_room_for_upload(principal)
        path = self.files.inspected_path(uuid.uuid4(), filename)
        self._save_upload(source, path)
        try:
            preview = self._preview_or_422(path, file_format, sheet)
            upload = self.inputs.keep(
                owner=principal.subject,
                dataset=chosen.name,
                file_name=filename,
                file_format=file_format,
                path=path,
            )
        except BaseException:
            shutil.rmtree(path.parent, ignore_errors=True)
            raise
        return self.inputs.inspection(upload, chosen, preview, principal.subject)

    def inspect_upload(
        self, principal: Principal, upload_id: uuid.UUID, *, dataset: str, sheet: str | None
    ) -> Inspection:
        """Preview a waiting upload again (another sheet, or for another dataset)."""
        self._writable(principal)
        chosen = self._dataset(principal, Action.IMPORT, dataset)
        upload = self._own_upload(principal, upload_id)
        path = self.files.resolve(upload.path)
        preview = self._preview_or_422(path, FileFormat(upload.format), sheet)
        return self.inputs.inspection(upload, chosen, preview, principal.subject)

    def inspect_job(
        self, principal: Principal, job_id: uuid.UUID, *, sheet: str | None = None
    ) -> Inspection:
        """The upload of an earlier import, waiting again under a new upload id: for mapping
        its columns after it failed on them, without sending the file again."""
        self._writable(principal)
        job = self.visible_job(principal, job_id)
        if job.kind is not JobKind.IMPORT:
            raise CommandError(404, "Import not found")
        chosen = self._dataset(principal, Action.IMPORT, job.dataset)
        self._check_room_for_upload(principal)
        source = self.files.resolve(job.params["upload"])
        if not source.is_file():
            raise CommandError(
                410, "The uploaded file of this job is no longer stored; upload it again."
            )
        file_format = FileFormat(job.params["format"])
        path = self.inputs.link_into_upload(source, uuid.uuid4())
        try:
            preview = self._preview_or_422(path, file_format, sheet or job.params.get("sheet"))
            upload = self.inputs.keep(
                owner=job.owner,
                dataset=chosen.name,
                file_name=str(job.params.get("fileName") or source.name),
                file_format=file_format,
                path=path,
            )
        except BaseException:
            shutil.rmtree(path.parent, ignore_errors=True)
            raise
        return self.inputs.inspection(upload, chosen, preview, job.owner)

    def create_import(
        self,
        principal: Principal,
        *,
        dataset: str,
        filename: str | None = None,
        source: BinaryIO | None = None,
        upload_id: uuid.UUID | None = None,
        mapping: Mapping[str, object] | None = None,
        sheet: str | None = None,
    ) -> CreatedJob:
        """Queue the import of a file sent now (`source`, stored straight into the data dir)
        or of an inspected one (`upload_id`), through `mapping` (field -> column; None: the
        principal's remembered one for these headers, else the suggested one). A mapping
        the file cannot take is refused (422) before any job exists."""
        self._writable(principal)
        chosen = self._dataset(principal, Action.IMPORT, dataset)
        if (source is None) == (upload_id is None):
            raise CommandError(400, "Send either the file (field file) or an uploadId, not both.")
        self._check_quota(principal)  # before taking the file in, not only after
        job_id = uuid.uuid4()
        if upload_id is not None:
            upload = self._own_upload(principal, upload_id)
            file_format = FileFormat(upload.format)
            filename = upload.file_name
            used = self._mapping_or_422(
                principal, chosen, self.files.resolve(upload.path), file_format, mapping, sheet
            )
            if not self.inputs.uploads.take(upload.id):  # another import took it meanwhile
                raise CommandError(404, UPLOAD_NOT_FOUND)
            path = self.inputs.hand_over(upload, job_id)
            size = upload.size_bytes
        else:
            assert source is not None and filename is not None
            file_format = self._import_format(filename)
            path = self.files.upload_path(job_id, filename)
            size = self._save_upload(source, path)
            try:
                used = self._mapping_or_422(principal, chosen, path, file_format, mapping, sheet)
            except BaseException:
                shutil.rmtree(path.parent, ignore_errors=True)
                raise
        params: dict[str, object] = {
            "upload": self.files.relative(path),
            "fileName": filename,
            "format": file_format.value,
            "sizeBytes": size,
            "mapping": used.mapping,
            "sheet": used.sheet,
        }
        try:
            job = self._create(
                principal.subject,
                kind=JobKind.IMPORT,
                dataset=chosen.name,
                params=params,
                job_id=job_id,
                stored_bytes=size,
            )
        except BaseException:
            if upload_id is not None:
                self.inputs.give_back(upload, path)
            else:
                shutil.rmtree(path.parent, ignore_errors=True)  # no job keeps the file
            raise
        return self._submit(job)

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
        dataset = self._dataset(principal, _action(job.kind), job.dataset)
        self._check_quota(principal, owner=job.owner)
        retry_id = uuid.uuid4()
        params = dict(job.params)
        stored = 0
        if job.kind is JobKind.IMPORT:
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
                stored_bytes=stored,
            )
        except BaseException:
            shutil.rmtree(self.files.upload_dir(retry_id), ignore_errors=True)
            raise
        return self._submit(retry)

    # --- rules ---------------------------------------------------------------------------

    @staticmethod
    def _writable(principal: Principal) -> None:
        if principal.read_only:
            # Routes that change anything do not take tokens; this guards the commands too.
            raise CommandError(403, "An access token can only read its job.")

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

    def _own_upload(self, principal: Principal, upload_id: uuid.UUID) -> Upload:
        """An inspected upload is its sender's alone: anyone else is told it does not exist."""
        upload = self.inputs.uploads.get(upload_id, owner=principal.subject)
        if upload is None:
            raise CommandError(404, UPLOAD_NOT_FOUND)
        return upload

    def _check_room_for_upload(self, principal: Principal) -> None:
        """Inspected files count against the stored-bytes quota; their number is capped."""
        self._check_quota(principal, active_jobs_too=False)
        if self.inputs.uploads.count_of(principal.subject) >= MAX_WAITING_UPLOADS:
            raise CommandError(
                429,
                f"You have {MAX_WAITING_UPLOADS} inspected files waiting to be imported. "
                "Import or leave them (they are deleted after 24 hours), then try again.",
                retry_after=60,
            )

    def _preview_or_422(
        self, path: Path, file_format: FileFormat, sheet: str | None
    ) -> FilePreview:
        preview = try_preview(self.inputs, path, file_format, self.limits, sheet)
        if isinstance(preview, UnreadableFileError):
            raise CommandError(422, str(preview))
        return preview

    def _mapping_or_422(
        self,
        principal: Principal,
        dataset: Dataset,
        path: Path,
        file_format: FileFormat,
        mapping: Mapping[str, object] | None,
        sheet: str | None,
    ) -> _ChosenInput:
        """The mapping and sheet the job will use. A file that cannot be read at all is
        left to the job to fail on (with the same sentence), unless a mapping or sheet was
        chosen: those cannot be checked, so the request is refused."""
        preview = try_preview(self.inputs, path, file_format, self.limits, sheet)
        if isinstance(preview, UnreadableFileError):
            if mapping is not None or sheet is not None:
                raise CommandError(422, str(preview))
            return _ChosenInput(None, None)
        try:
            used = self.inputs.mapping_for_import(principal.subject, dataset, preview, mapping)
        except MappingError as error:
            raise CommandError(422, str(error)) from None
        return _ChosenInput(used, preview.sheet)

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


def _action(kind: JobKind) -> Action:
    return Action.IMPORT if kind is JobKind.IMPORT else Action.EXPORT


def _encode_cursor(job: Job) -> str:
    raw = f"{job.created_at.isoformat()}|{job.id.hex}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created, _, job_hex = base64.urlsafe_b64decode(padded.encode()).decode().partition("|")
        return datetime.fromisoformat(created), uuid.UUID(hex=job_hex)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise CommandError(
            400, "The cursor is not valid; use nextCursor as it was given."
        ) from None
