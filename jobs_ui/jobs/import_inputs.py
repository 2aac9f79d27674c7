"""What an import starts from: a stored file, what it looks like, and the mapping to use.

Access is decided by the commands (jobs_ui/jobs/commands/); this module does the work
they decide on: keeping an inspected file under an upload id, previewing a file's start,
choosing a mapping (one the principal used before for the same headers, else the suggested
one), and handing an inspected file over to the job that imports it.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from jobs_ui.datasets import Dataset
from jobs_ui.engines.formats import FileFormat, UnreadableFileError
from jobs_ui.engines.limits import FileLimits
from jobs_ui.engines.mapping import (
    FieldMapping,
    MappingError,
    checked_mapping,
    missing_required,
    suggest_mapping,
)
from jobs_ui.engines.modes import ImportMode
from jobs_ui.engines.preview import FilePreview, preview_file
from jobs_ui.files import DataFiles
from jobs_ui.jobs.mappings import MappingMemory
from jobs_ui.jobs.uploads import RoomCheck, Upload, UploadStore


@dataclass(frozen=True)
class Inspection:
    """A stored file's preview and the mapping suggested for it."""

    upload: Upload
    preview: FilePreview
    suggested: FieldMapping
    missing_required: list[str]
    remembered: bool


class ImportInputs:
    def __init__(self, *, files: DataFiles, uploads: UploadStore, memory: MappingMemory) -> None:
        self.files, self.uploads, self.memory = files, uploads, memory

    def preview(
        self, path: Path, file_format: FileFormat, limits: FileLimits, sheet: str | None
    ) -> FilePreview:
        return preview_file(path, file_format, limits, sheet=sheet)

    def inspection(
        self, upload: Upload, dataset: Dataset, preview: FilePreview, owner: str
    ) -> Inspection:
        suggested, remembered = self.suggestion(owner, dataset, preview.columns)
        return Inspection(
            upload=upload,
            preview=preview,
            suggested=suggested,
            missing_required=missing_required(suggested, dataset),
            remembered=remembered,
        )

    def suggestion(
        self, owner: str, dataset: Dataset, columns: list[str]
    ) -> tuple[FieldMapping, bool]:
        """The mapping to offer: the principal's remembered one for these headers, if it
        still fits the dataset and the file, else the suggested one. True: remembered."""
        recalled = self.memory.recall(owner=owner, dataset=dataset.name, columns=columns)
        if recalled is not None:
            try:
                return checked_mapping(recalled, columns, dataset), True
            except MappingError:
                pass  # the dataset changed since: suggest afresh
        return suggest_mapping(columns, dataset), False

    def mapping_for_import(
        self,
        owner: str,
        dataset: Dataset,
        preview: FilePreview,
        chosen: Mapping[str, object] | None,
        mode: ImportMode = ImportMode.INSERT,
    ) -> FieldMapping | None:
        """The mapping the job will use, or MappingError. A chosen mapping is remembered
        for this principal, dataset and set of headers. Without one, the suggestion from
        the headers alone, never a remembered mapping: the same request imports the same
        way whatever the caller mapped before (a script must not start leaving fields out
        because someone unmapped them on the page). JSON Lines without a chosen mapping:
        None (each line's keys are matched as they come)."""
        if chosen is None:
            if preview.format is FileFormat.JSONL:
                return None
            suggested = suggest_mapping(preview.columns, dataset)
            return checked_mapping(suggested, preview.columns, dataset, suggested=True, mode=mode)
        mapping = checked_mapping(chosen, preview.columns, dataset, mode=mode)
        self.memory.remember(
            owner=owner, dataset=dataset.name, columns=preview.columns, mapping=mapping
        )
        return mapping

    def keep(
        self,
        *,
        owner: str,
        dataset: str,
        file_name: str,
        file_format: FileFormat,
        path: Path,
        room: RoomCheck | None = None,
        source_job: uuid.UUID | None = None,
    ) -> Upload:
        """Record a file stored at `files.inspected_path(...)` as an upload of `owner`
        (`room`: see UploadStore.add; `source_job`: the import whose file it is again)."""
        upload_id = uuid.UUID(path.parent.name)
        return self.uploads.add(
            upload_id=upload_id,
            owner=owner,
            dataset=dataset,
            file_name=file_name,
            file_format=file_format.value,
            path=self.files.relative(path),
            size_bytes=path.stat().st_size,
            room=room,
            source_job=source_job,
        )

    def link_into_upload(self, source: Path, upload_id: uuid.UUID) -> Path:
        """A new inspected upload of a stored file (a hard link where the disk allows)."""
        target = self.files.inspected_path(upload_id, source.name)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source, target)
        except OSError:
            shutil.copyfile(source, target)
        return target

    def hand_over(self, upload: Upload, job_id: uuid.UUID) -> Path:
        """Move an inspected file into the job's own upload folder (same disk: a rename)."""
        source = self.files.resolve(upload.path)
        target = self.files.upload_path(job_id, source.name)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, target)
        shutil.rmtree(source.parent, ignore_errors=True)
        return target

    def give_back(self, upload: Upload, path: Path | None = None) -> None:
        """Undo `take` (and `hand_over`, when `path` is where it went) after the job could
        not be created: the upload waits again, as old as it was."""
        if path is not None:
            source = self.files.resolve(upload.path)
            source.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, source)
            shutil.rmtree(path.parent, ignore_errors=True)
        self.uploads.add(
            upload_id=upload.id,
            owner=upload.owner,
            dataset=upload.dataset,
            file_name=upload.file_name,
            file_format=upload.format,
            path=upload.path,
            size_bytes=upload.size_bytes,
            created_at=upload.created_at,
            source_job=upload.source_job,
        )


def try_preview(
    inputs: ImportInputs,
    path: Path,
    file_format: FileFormat,
    limits: FileLimits,
    sheet: str | None,
) -> FilePreview | UnreadableFileError:
    try:
        return inputs.preview(path, file_format, limits, sheet)
    except UnreadableFileError as error:
        return error
