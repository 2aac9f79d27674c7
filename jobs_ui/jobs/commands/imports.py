"""Commands that take a file in: inspecting it, and importing it through a mapping.

An inspected upload is its sender's alone (anyone else is told it does not exist); an
import names it, or sends the file itself, and a mapping the file cannot take is refused
(422) before any job exists.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from sqlmodel import Session

from jobs_ui.access.hooks import Action, authorize_hook
from jobs_ui.access.principal import Principal
from jobs_ui.datasets import Dataset
from jobs_ui.engines.formats import FileFormat, UnreadableFileError
from jobs_ui.engines.mapping import FieldMapping, MappingError
from jobs_ui.engines.modes import ImportMode
from jobs_ui.engines.preview import FilePreview
from jobs_ui.jobs.commands.base import (
    MAX_WAITING_UPLOADS,
    UPLOAD_NOT_FOUND,
    CommandError,
    CommandsBase,
    CreatedJob,
)
from jobs_ui.jobs.import_inputs import Inspection, try_preview
from jobs_ui.jobs.store import QuotaExceededError
from jobs_ui.jobs.uploads import Upload
from jobs_ui.models import JobKind


@dataclass(frozen=True)
class _ChosenInput:
    mapping: FieldMapping | None
    sheet: str | None


@dataclass(frozen=True)
class _Wanted:
    """What the request asked for: checked against the file before a job exists."""

    mapping: Mapping[str, object] | None
    sheet: str | None
    mode: ImportMode


class ImportCommands(CommandsBase):
    """Inspecting files and starting imports."""

    def check_can_inspect(self, principal: Principal) -> None:
        """Refuse early a principal that may store no more files (before the upload)."""
        self._writable(principal)
        self._check_room_for_upload(principal)

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
        return self._keep_inspected(principal, chosen, path, file_format, filename, sheet)

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
        """The upload of an earlier import, waiting again under an upload id of the asker's:
        for mapping its columns after it failed on them, without sending the file again.
        Asked again (the page reloaded), the same waiting upload answers."""
        self._writable(principal)
        job = self.visible_job(principal, job_id)
        if job.kind is not JobKind.IMPORT or "upload" not in job.params:  # an undo has none
            raise CommandError(404, "Import not found")
        chosen = self._dataset(principal, Action.IMPORT, job.dataset)
        waiting = self.inputs.uploads.waiting_from(job.id, owner=principal.subject)
        if waiting is not None:
            path = self.files.resolve(waiting.path)
            preview = self._preview_or_422(path, FileFormat(waiting.format), sheet)
            return self.inputs.inspection(waiting, chosen, preview, principal.subject)
        self._check_room_for_upload(principal)
        source = self.files.resolve(job.params["upload"])
        if not source.is_file():
            raise CommandError(
                410, "The uploaded file of this job is no longer stored; upload it again."
            )
        path = self.inputs.link_into_upload(source, uuid.uuid4())
        return self._keep_inspected(
            principal,
            chosen,
            path,
            FileFormat(job.params["format"]),
            str(job.params.get("fileName") or source.name),
            sheet or job.params.get("sheet"),
            source_job=job.id,
        )

    def _keep_inspected(
        self,
        principal: Principal,
        dataset: Dataset,
        path: Path,
        file_format: FileFormat,
        file_name: str,
        sheet: str | None,
        *,
        source_job: uuid.UUID | None = None,
    ) -> Inspection:
        """Preview a file stored under a new upload id and record it as the principal's
        upload; a file that cannot be read is deleted and refused (422)."""
        try:
            preview = self._preview_or_422(path, file_format, sheet)
            upload = self.inputs.keep(
                owner=principal.subject,
                dataset=dataset.name,
                file_name=file_name,
                file_format=file_format,
                path=path,
                room=self._room_for_upload,
                source_job=source_job,
            )
        except BaseException:
            shutil.rmtree(path.parent, ignore_errors=True)
            raise
        return self.inputs.inspection(upload, dataset, preview, principal.subject)

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
        mode: ImportMode = ImportMode.INSERT,
        dry_run: bool = False,
    ) -> CreatedJob:
        """Queue the import of a file sent now (`source`, stored straight into the data dir)
        or of an inspected one (`upload_id`), through `mapping` (field -> column; None: the
        one suggested for its headers), by `mode`; a `dry_run` writes nothing (see `commit`).
        A mapping the file cannot take in that mode is refused (422) before any job exists."""
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
            # Taken first (one atomic delete): a second import of it, or the sweep, then
            # finds it gone, rather than its file moved away mid-read.
            if not self.inputs.uploads.take(upload.id):
                raise CommandError(404, UPLOAD_NOT_FOUND)
            try:
                used = self._mapping_or_422(
                    principal,
                    chosen,
                    self.files.resolve(upload.path),
                    file_format,
                    _Wanted(mapping, sheet, mode),
                )
            except BaseException:
                self.inputs.give_back(upload)  # still waiting, for a mapping that fits
                raise
            path = self.inputs.hand_over(upload, job_id)
            size = upload.size_bytes
        else:
            assert source is not None and filename is not None
            file_format = self._import_format(filename)
            path = self.files.upload_path(job_id, filename)
            size = self._save_upload(source, path)
            try:
                wanted = _Wanted(mapping, sheet, mode)
                used = self._mapping_or_422(principal, chosen, path, file_format, wanted)
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
            "mode": mode.value,
            "dryRun": dry_run,
        }
        if dry_run:
            # A dry run's changes show the stored values ("from"): only to one who may read
            # them, as an export would.
            params["showStored"] = authorize_hook()(principal, Action.EXPORT, chosen)
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

    def _own_upload(self, principal: Principal, upload_id: uuid.UUID) -> Upload:
        """An inspected upload is its sender's alone: anyone else is told it does not exist."""
        upload = self.inputs.uploads.get(upload_id, owner=principal.subject)
        if upload is None:
            raise CommandError(404, UPLOAD_NOT_FOUND)
        return upload

    def _check_room_for_upload(self, principal: Principal) -> None:
        """Early, before the file is taken in: inspected files count against the
        stored-bytes quota, and their number is capped. (Checked again as the upload is
        recorded, in one transaction: see `_room_for_upload`.)"""
        self._check_quota(principal, active_jobs_too=False)
        self._check_waiting(self.inputs.uploads.count_of(principal.subject))

    def _room_for_upload(self, session: Session, owner: str, size_bytes: int) -> None:
        """In the transaction that records an upload: the owner's quota and upload count,
        with this upload's bytes, so racing requests cannot pass them together."""
        try:
            self.store.check_room(session, owner, self.storage_quota, adding_bytes=size_bytes)
        except QuotaExceededError as error:
            raise CommandError(error.status, error.message, retry_after=error.retry_after) from None
        self._check_waiting(self.inputs.uploads.count_of(owner, session))

    @staticmethod
    def _check_waiting(count: int) -> None:
        if count >= MAX_WAITING_UPLOADS:
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
        wanted: _Wanted,
    ) -> _ChosenInput:
        """The mapping and sheet the job will use. A file that cannot be read at all is
        left to the job to fail on (with the same sentence), unless a mapping or sheet was
        chosen: those cannot be checked, so the request is refused."""
        preview = try_preview(self.inputs, path, file_format, self.limits, wanted.sheet)
        if isinstance(preview, UnreadableFileError):
            if wanted.mapping is not None or wanted.sheet is not None:
                raise CommandError(422, str(preview))
            return _ChosenInput(None, None)
        try:
            used = self.inputs.mapping_for_import(
                principal.subject, dataset, preview, wanted.mapping, wanted.mode
            )
        except MappingError as error:
            raise CommandError(422, str(error)) from None
        return _ChosenInput(used, preview.sheet)
