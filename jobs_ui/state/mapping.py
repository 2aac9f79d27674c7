"""The import form's second step: which column of the inspected file feeds which field.

A mixin of the import form's state (`jobs_ui.pages.imports.ImportForm`): the file was sent
and inspected in step 1; here a person checks the suggested mapping, changes it, picks a
workbook's sheet and the mode (add, add and update, update only), and starts the import of
the waiting upload, or a dry run of it.
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import reflex as rx

from jobs_ui import routes
from jobs_ui.datasets import registry
from jobs_ui.datasets.fields import FieldSpec
from jobs_ui.datasets.registry import UnknownDatasetError
from jobs_ui.engines.mapping import required_fields
from jobs_ui.engines.modes import ImportMode
from jobs_ui.jobs.commands import CommandError
from jobs_ui.jobs.import_inputs import Inspection
from jobs_ui.state.backend import commands, principal_of, run_command

SAMPLES_SHOWN = 3  # values of the chosen column shown beside its select
STEP_FILE, STEP_MAPPING = "file", "mapping"


@dataclasses.dataclass
class MappedField:
    """One row of the mapping table: a dataset field and the column chosen for it."""

    name: str
    required: bool
    description: str
    column: str  # "" : not imported
    samples: str  # the chosen column's first values, as the file has them


class MappingStep(rx.State, mixin=True):
    """The inspected upload and the mapping being chosen for it."""

    step: str = STEP_FILE
    upload_id: str = ""
    file_name: str = ""
    mapped_dataset: str = ""  # the dataset the upload was inspected for
    columns: list[str] = []
    sample_rows: list[list[str | None]] = []
    sheets: list[str] = []
    sheet: str = ""
    mapping: dict[str, str] = {}  # field -> column, "" for not imported
    remembered: bool = False
    importing: bool = False
    mapping_error: str = ""
    mode: str = ImportMode.INSERT.value
    dry_run: bool = False

    @rx.var
    def on_mapping_step(self) -> bool:
        return self.step == STEP_MAPPING

    @rx.var
    def field_rows(self) -> list[MappedField]:
        required = self._required()
        rows = []
        for spec in _specs(self.mapped_dataset):
            column = self.mapping.get(spec.name, "")
            rows.append(
                MappedField(
                    name=spec.name,
                    required=spec.name in required,
                    description=spec.description or "",
                    column=column,
                    samples=_samples(self.columns, self.sample_rows, column),
                )
            )
        return rows

    @rx.var
    def unmapped_required(self) -> list[str]:
        return [name for name in self._required() if not self.mapping.get(name)]

    @rx.var
    def mode_note(self) -> str:
        """What the chosen mode does with the fields left unmapped, in words."""
        if self.mode == ImportMode.UPDATE.value:
            return "Only the key is required: fields left unmapped keep what is stored."
        if self.mode == ImportMode.UPSERT.value:
            return "Rows whose key exists get the file's values; unmapped fields keep theirs."
        return "Rows whose key exists already are skipped."

    def _required(self) -> tuple[str, ...]:
        try:
            dataset = registry.get(self.mapped_dataset)
        except UnknownDatasetError:
            return ()
        return required_fields(dataset, _mode(self.mode))

    @rx.var
    def unmapped_note(self) -> str:
        """Why Import is disabled, in words; "" when every required field has a column."""
        missing = self.unmapped_required
        if not missing:
            return ""
        noun = "field" if len(missing) == 1 else "fields"
        return f"Choose a column for the required {noun} {', '.join(missing)} to import."

    @rx.var
    def import_blocker(self) -> str:
        """Why Import is disabled, in words: a required field without a column, or a column
        chosen for two fields; "" when the import can start."""
        if self.unmapped_note:
            return self.unmapped_note
        fields_of: dict[str, list[str]] = {}
        for field, column in self.mapping.items():
            if column:
                fields_of.setdefault(column, []).append(field)
        for column, fields in fields_of.items():
            if len(fields) > 1:
                return f"The column “{column}” is chosen for {' and '.join(fields)}: pick one."
        return ""

    @rx.var
    def has_sheets(self) -> bool:
        return len(self.sheets) > 1

    @rx.event
    def set_column(self, field: str, column: str) -> None:
        """Map `field` to `column` ("" : not imported). Another field keeps a column chosen
        here too (`import_blocker` says so): arrow keys on a select pass through columns on
        their way, and none of those steps should undo another field's choice."""
        if field not in self.mapping or (column and column not in self.columns):
            return
        self.mapping = {**self.mapping, field: column}
        self.mapping_error = ""

    @rx.event
    def set_mode(self, mode: str) -> None:
        if mode in {known.value for known in ImportMode}:
            self.mode, self.mapping_error = mode, ""

    @rx.event
    def set_dry_run(self, checked: bool) -> None:
        self.dry_run = bool(checked)

    @rx.event
    def back_to_file(self) -> None:
        self.step, self.mapping_error = STEP_FILE, ""

    @rx.event
    async def choose_sheet(self, sheet: str) -> None:
        """Read another sheet of the workbook: its columns and their suggested mapping."""
        if sheet not in self.sheets or sheet == self.sheet:
            return
        self.mapping_error = ""
        try:
            principal = await principal_of(self)
            inspection = await run_command(
                commands().inspect_upload,
                principal,
                _upload_uuid(self.upload_id),
                dataset=self.mapped_dataset,
                sheet=sheet,
            )
        except CommandError as error:
            self.mapping_error = error.message
            return
        self._show_inspection(inspection, self.mapped_dataset)

    @rx.event
    async def import_mapped(self) -> Any:
        """Import the waiting upload through the chosen mapping, then go and watch it."""
        if self.import_blocker or self.importing:
            return None
        self.importing, self.mapping_error = True, ""
        try:
            principal = await principal_of(self)
            created = await run_command(
                commands().create_import,
                principal,
                dataset=self._dataset_to_import(),
                upload_id=_upload_uuid(self.upload_id),
                mapping={field: column or None for field, column in self.mapping.items()},
                sheet=self.sheet or None,
                mode=_mode(self.mode),
                dry_run=self.dry_run,
            )
        except CommandError as error:
            self.mapping_error = error.message
            return None
        finally:
            self.importing = False
        self.step = STEP_FILE  # the upload is the job's now: the form starts afresh
        return rx.redirect(self._job_href(str(created.job.id)))

    @rx.event
    async def open_from_job(self) -> None:
        """When the form shows: step 1, or with `?from=<job_id>` in the page's URL that
        import's file on the mapping step (for an import that failed on its columns: no
        need to send the file again)."""
        self.step, self.mapping_error = STEP_FILE, ""
        job_id = self.router.url.query_parameters.get("from", "")
        if not job_id:
            return
        try:
            principal = await principal_of(self)
            earlier = _upload_uuid(job_id, what="Import")
            inspection = await run_command(commands().inspect_job, principal, earlier)
            job = await run_command(commands().visible_job, principal, earlier)
        except CommandError as error:
            self._set_form_error(error.message)
            return
        # The same choices as that import: back from a dry run, it is checked again.
        self.mode = _mode(job.params.get("mode")).value
        self.dry_run = bool(job.params.get("dryRun"))
        dataset = inspection.upload.dataset
        self._set_dataset(dataset)
        if self._dataset_to_import() != dataset:
            self._set_form_error(f"That import was into {dataset}; map it on its own page.")
            return
        self._show_inspection(inspection, dataset)

    def _show_inspection(self, inspection: Inspection, dataset: str) -> None:
        """Open the mapping step on an inspected upload, with its suggested mapping."""
        preview = inspection.preview
        self.upload_id = str(inspection.upload.id)
        self.file_name = inspection.upload.file_name
        self.mapped_dataset = dataset
        self.columns = list(preview.columns)
        self.sample_rows = [list(row) for row in preview.sample_rows]
        self.sheets = list(preview.sheets or [])
        self.sheet = preview.sheet or ""
        self.mapping = {field: column or "" for field, column in inspection.suggested.items()}
        self.remembered = inspection.remembered
        self.step = STEP_MAPPING

    # Provided by the form's state (ImportForm); here so this mixin reads on its own.
    def _dataset_to_import(self) -> str:
        return self.mapped_dataset

    def _job_href(self, job_id: str) -> str:
        return routes.job_page("IMPORT", job_id)

    def _set_dataset(self, dataset: str) -> None:
        """Show `dataset` as the form's choice (the form's state has the var)."""

    def _set_form_error(self, message: str) -> None:
        self.mapping_error = message


def _mode(value: object) -> ImportMode:
    try:
        return ImportMode(str(value or ImportMode.INSERT.value))
    except ValueError:
        return ImportMode.INSERT


def _specs(dataset: str) -> tuple[FieldSpec, ...]:
    try:
        return registry.get(dataset).specs if dataset else ()
    except UnknownDatasetError:
        return ()


def _samples(columns: list[str], rows: list[list[str | None]], column: str) -> str:
    if column not in columns:
        return ""
    index = columns.index(column)
    values = [row[index] for row in rows if index < len(row) and row[index]]
    return ", ".join(str(value) for value in values[:SAMPLES_SHOWN])


def _upload_uuid(value: str, *, what: str = "Upload") -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise CommandError(404, f"{what} not found") from None
