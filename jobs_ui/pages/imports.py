"""/imports: upload a file; /imports/[job_id]: watch it import.

The form and the job page are built from their state classes, so a developer's page for
one dataset (`jobs_ui.pages.extra.add_import_page`) is the same page with its own states.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from jobs_ui import routes
from jobs_ui.components.dataset_fields import DatasetGuide, expected_fields, guide_for
from jobs_ui.components.error_table import (
    ErrorGroup,
    RowError,
    error_summary,
    row_errors_table,
)
from jobs_ui.components.form import (
    dataset_select,
    field_label,
    first_dataset,
    form_card,
    message_callout,
)
from jobs_ui.components.layout import page
from jobs_ui.components.mapping_step import mapping_step
from jobs_ui.components.progress_card import job_page
from jobs_ui.engines.mapping import is_mapping_failure
from jobs_ui.jobs.commands import CommandError
from jobs_ui.state.backend import (
    browser_url,
    check_own_upload,
    commands,
    principal_of,
    run_command,
)
from jobs_ui.state.job_status import JobStatusState
from jobs_ui.state.mapping import MappingStep

UPLOAD_ID = "import_file"
ACCEPTED_FILES = {
    "text/csv": [".csv", ".tsv", ".txt"],
    "application/x-ndjson": [".jsonl", ".ndjson"],
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": [".xlsx"],
}


class ImportForm(MappingStep, mixin=True):
    """The import form's state; each concrete form state keeps its own copy of the vars.
    Step 1 sends and inspects the file; step 2 (MappingStep) maps its columns and imports."""

    dataset: str = first_dataset()
    upload_progress: int = 0
    uploading: bool = False
    form_error: str = ""

    @rx.event
    def choose_dataset(self, dataset: str) -> None:
        self.dataset = dataset

    @rx.var(deps=["dataset"], auto_deps=False)
    def dataset_guide(self) -> DatasetGuide:
        """The fields the chosen dataset expects, and its template's links."""
        return guide_for(self._dataset_to_import())

    @rx.event
    def begin_upload(self) -> None:
        self.uploading, self.upload_progress, self.form_error = True, 0, ""

    @rx.event
    def track_upload(self, progress: dict[str, Any]) -> None:
        """The browser's upload progress, 0 to 1; anything else a tab sends is ignored."""
        fraction = progress.get("progress") if isinstance(progress, dict) else None
        if isinstance(fraction, int | float) and 0 <= fraction <= 1:
            self.upload_progress = round(fraction * 100)

    @rx.event
    async def submit_file(self, files: list[rx.UploadFile]) -> Any:
        """Keep and inspect the uploaded file (in-process, the same command the API runs),
        then show its columns and the suggested mapping (step 2)."""
        try:
            if not files:
                self.form_error = "Choose a file to import."
                return None
            upload = files[0]
            try:
                principal = await principal_of(self)
                check_own_upload(self, principal)
                dataset = self._dataset_to_import()
                inspection = await run_command(
                    commands().inspect,
                    principal,
                    dataset=dataset,
                    filename=upload.filename or "upload.csv",
                    source=upload.file,
                )
            except CommandError as error:
                self.form_error = error.message
                return None
            self._show_inspection(inspection, dataset)
            return rx.clear_selected_files(UPLOAD_ID)
        finally:
            self.uploading = False

    def _dataset_to_import(self) -> str:
        """The dataset the upload goes into."""
        return self.dataset

    def _job_href(self, job_id: str) -> str:
        """Where the new job is watched."""
        return routes.job_page("IMPORT", job_id)

    def _set_dataset(self, dataset: str) -> None:
        self.dataset = dataset

    def _set_form_error(self, message: str) -> None:
        self.form_error = message


class ImportFormState(ImportForm, rx.State):
    """The form of /imports."""


class ImportJob(JobStatusState, mixin=True):
    """One import being followed: counts, summary and skipped rows."""

    @rx.var
    def imported_count(self) -> int:
        return int(self.result.get("importedCount", 0) or 0)

    @rx.var
    def skipped_count(self) -> int:
        return int(self.result.get("skippedCount", 0) or 0)

    @rx.var
    def summary(self) -> str:
        """ "Imported N rows", then ", skipped M" when rows were skipped."""
        text = f"Imported {self.imported_count:,} rows"
        return f"{text}, skipped {self.skipped_count:,}" if self.skipped_count else text

    @rx.var
    def headline(self) -> str:
        return f"Import into {self.dataset}" if self.dataset else "Import"

    @rx.var
    def row_errors(self) -> list[RowError]:
        return [
            RowError(
                row=int(error.get("row", 0)),
                message=str(error.get("message", "")),
                field=_text(error.get("field")),
                column=_text(error.get("column")),
                value=_text(error.get("value")),
            )
            for error in self.result.get("errors") or []
        ]

    @rx.var
    def error_groups(self) -> list[ErrorGroup]:
        """Why rows were skipped, one entry per reason, the most common first."""
        return [
            ErrorGroup(
                message=str(group.get("message", "")),
                count=int(group.get("count", 0) or 0),
                field=_text(group.get("field")),
                column=_text(group.get("column")),
                examples=", ".join(f"“{value}”" for value in group.get("examples") or []),
                rows=", ".join(str(row) for row in group.get("rows") or []),
            )
            for group in self.result.get("errorSummary") or []
        ]

    @rx.var
    def needs_mapping(self) -> bool:
        """Failed because the file's columns did not fit: mapping them, not a retry, helps."""
        return self.status == "FAILED" and is_mapping_failure(self.error)

    @rx.var
    def can_retry(self) -> bool:
        return (self.is_failed or self.is_cancelled) and not self.needs_mapping

    @rx.var
    def error_report_href(self) -> str:
        return browser_url(self.result.get("errorReportUrl"))


class ImportJobState(ImportJob, rx.State):
    """The import followed on /imports/[job_id]."""


def _text(value: object) -> str:
    return "" if value is None else str(value)


def file_drop_zone() -> rx.Component:
    zone = rx.upload(
        rx.vstack(
            rx.icon("upload", size=28, color="var(--accent-9)"),
            rx.text("Drop a file here, or click to choose one", weight="medium"),
            rx.text("CSV, TSV, JSON Lines or Excel (.xlsx)", size="1", color_scheme="gray"),
            align="center",
            spacing="2",
        ),
        id=UPLOAD_ID,
        multiple=False,
        max_files=1,
        accept=ACCEPTED_FILES,
        border="1px dashed var(--gray-a7)",
        border_radius="var(--radius-3)",
        padding="2rem",
        width="100%",
        cursor="pointer",
    )
    return labelled_file_input(zone, "File to import")


def labelled_file_input(zone: rx.Component, label: str) -> rx.Component:
    """Name the drop zone's file input: rx.upload makes it with no props of its own, so a
    screen reader would announce an unnamed "file upload" control."""
    for child in zone.children:
        if getattr(child, "tag", None) == "input":
            child.custom_attrs["aria-label"] = label
        else:
            labelled_file_input(child, label)
    return zone


def upload_progress(form: type[ImportForm]) -> rx.Component:
    return rx.cond(
        form.uploading,
        rx.vstack(
            rx.progress(
                value=form.upload_progress, max=100, width="100%", aria_label="Upload progress"
            ),
            rx.text(f"Uploading… {form.upload_progress}%", size="1", color_scheme="gray"),
            width="100%",
        ),
    )


def import_form(
    form: type[ImportForm] = ImportFormState, *, pick_dataset: bool = True
) -> rx.Component:
    """The upload form; `pick_dataset=False` for a page of one dataset."""
    # Any: mypy reads handlers made by rx.event (whose __new__ returns a callback) as
    # instances of rx.event's class, and calling one as an error.
    events: Any = form
    selected = rx.selected_files(UPLOAD_ID)
    dataset_fields = (
        (field_label("Dataset"), dataset_select(form.dataset, form.choose_dataset))
        if pick_dataset
        else ()
    )
    file_step = form_card(
        *dataset_fields,
        expected_fields(form.dataset_guide),
        field_label("File"),
        file_drop_zone(),
        rx.foreach(
            selected,
            lambda name: rx.hstack(
                rx.icon("file", size=16), rx.text(name, size="2"), align="center"
            ),
        ),
        upload_progress(form),
        message_callout(form.form_error, test_id="form-error"),
        rx.button(
            rx.icon("arrow_right", size=16),
            "Next: map columns",
            size="3",
            disabled=(selected.length() == 0) | form.uploading,
            loading=form.uploading,
            on_click=[
                form.begin_upload,
                events.submit_file(
                    rx.upload_files(upload_id=UPLOAD_ID, on_upload_progress=events.track_upload)
                ),
            ],
            data_testid="inspect-button",
        ),
    )
    return rx.box(
        rx.cond(form.on_mapping_step, mapping_step(form), file_step),
        on_mount=events.open_from_job,  # `?from=<job_id>`: map that import's file
        width="100%",
    )


def imports_page() -> rx.Component:
    return page(
        import_form(),
        heading="Import data",
        lead="Every row is checked: bad ones are skipped and listed, good ones saved together.",
    )


def map_columns_link(state: type[ImportJob], form_href: str) -> rx.Component:
    """For an import that failed on its columns: its file, on the form's mapping step."""
    return rx.cond(
        state.needs_mapping,
        rx.link(
            rx.hstack(rx.icon("columns_3", size=16), "Map the columns", align="center"),
            href=f"{form_href}?from={state.job_id}",
            weight="medium",
            data_testid="map-columns",
        ),
    )


def import_outcome(
    state: type[ImportJob] = ImportJobState, *, form_href: str = routes.IMPORTS
) -> rx.Component:
    return rx.fragment(map_columns_link(state, form_href), _completed_outcome(state))


def _completed_outcome(state: type[ImportJob]) -> rx.Component:
    return rx.cond(
        state.is_completed,
        rx.vstack(
            rx.callout(
                state.summary,
                icon="circle_check",
                color_scheme="green",
                data_testid="import-summary",
            ),
            rx.cond(
                state.skipped_count > 0,
                rx.vstack(
                    error_summary(state.error_groups),
                    row_errors_table(state.row_errors),
                    rx.cond(
                        state.error_report_href != "",
                        rx.link(
                            rx.hstack(
                                rx.icon("download", size=14),
                                "Download the full error report (CSV)",
                                align="center",
                            ),
                            href=state.error_report_href,
                            is_external=False,
                            data_testid="error-report-link",
                        ),
                        rx.text(
                            "The full error report is no longer stored (files are kept for a "
                            "while after a job ends).",
                            size="2",
                            color_scheme="gray",
                            data_testid="error-report-deleted",
                        ),
                    ),
                    width="100%",
                    spacing="3",
                ),
            ),
            width="100%",
            spacing="3",
        ),
    )


def import_job_page(
    state: type[ImportJob] = ImportJobState,
    *,
    heading: str = "Import",
    back_href: str = routes.IMPORTS,
) -> rx.Component:
    return job_page(
        state,
        import_outcome(state, form_href=back_href),
        title=state.headline,
        heading=heading,
        back_href=back_href,
        back_label="Import another file",
        can_retry=state.can_retry,
    )
